// The workbench's run queue: a comparison (methods × seeds on one model, split and budget) is queued as one job
// and run by the one comparison orchestrator (training/compare.ts runComparison, as `prefixlab compare` is), its
// runs shown as queue items; cancel (one item), resume, and persistence of comparisons in
// <home>/comparisons/<id>.json so the Train view can rebuild itself after a reload or a restart.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ComparisonSchema, type Comparison, type QueueItem } from '@shared/contract/calls/training';
import type { TrainProgress, TrainResult } from '@shared/contract/training';
import { toErrorData } from '../platform/system-errors';
import { ApiError } from '@shared/errors';
import type { MethodName } from '../engine/methods/method';
import { workerEntry } from './training/worker-protocol';
import { writeJsonAtomic } from '../platform/atomic-write';
import type { ProcessLauncher } from '../platform/process-launcher';
import { runComparison, type ComparePlan, type RunTag } from './training/compare';
import { resume, recoverInterruptedRuns, type Isolation } from './training/train';

export interface RunQueueEvents {
  onQueue(items: QueueItem[]): void;
  onProgress(progress: TrainProgress): void;
  onLog(item: QueueItem, message: string): void;
}

interface Pending {
  item: QueueItem;
  controller: AbortController;
}

/** A queued comparison (its runs, one item each, keyed seed/method) or one run to resume. */
type Job = { kind: 'comparison'; plan: ComparePlan; runs: Map<string, Pending> } | { kind: 'resume'; run: Pending };

const runKey = (seed: number, method: string): string => `${seed}/${method}`;

const COMPARISON_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class RunQueue {
  private readonly comparisons = new Map<string, Comparison>();
  private readonly jobs: Job[] = [];
  private active: Job | null = null;
  /** The run training now (an item of the active job). */
  private running: Pending | null = null;
  private readonly ready: Promise<void>;

  constructor(
    private readonly home: string,
    private readonly events: RunQueueEvents,
    /** Where runs execute; default: the training process when its bundle exists, else this process. */
    private readonly isolate: Isolation = existsSync(workerEntry().file) ? 'process' : 'inline',
    /** How training processes start (the Electron shell passes its utilityProcess launcher); default child_process.fork. */
    private readonly launcher?: ProcessLauncher,
  ) {
    this.ready = this.load();
  }

  get dir(): string {
    return join(this.home, 'comparisons');
  }

  /** Queue items of every comparison, oldest first (finished ones included). */
  async items(): Promise<QueueItem[]> {
    await this.ready;
    return [...this.comparisons.values()].flatMap((c) => c.items).sort((a, b) => a.enqueuedAt.localeCompare(b.enqueuedAt));
  }

  async list(): Promise<Comparison[]> {
    await this.ready;
    return [...this.comparisons.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Adds a comparison and one item per seed × method (seeds outermost, as the orchestrator runs them). */
  async enqueue(comparison: Omit<Comparison, 'comparisonId' | 'createdAt' | 'items'>, plan: ComparePlan): Promise<Comparison> {
    await this.ready;
    const now = new Date();
    const comparisonId = `${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
    const full: Comparison = { ...comparison, comparisonId, createdAt: now.toISOString(), items: [] };
    const runs = new Map<string, Pending>();
    let order = 0;
    for (const seed of plan.seeds) {
      for (const { name } of plan.methods) {
        const item = this.newItem(comparisonId, 'train', name, seed, order++);
        full.items.push(item);
        runs.set(runKey(seed, name), { item, controller: new AbortController() });
      }
    }
    this.jobs.push({ kind: 'comparison', plan, runs });
    this.comparisons.set(comparisonId, full);
    await this.save(full);
    this.changed();
    void this.pump();
    return full;
  }

  /** Queues `runId` to continue from its newest checkpoint, in the comparison it belongs to. */
  async enqueueResume(runId: string, info: { method: MethodName; seed: number }): Promise<QueueItem> {
    await this.ready;
    if (this.running?.item.runId === runId || this.jobs.some((j) => j.kind === 'resume' && j.run.item.runId === runId)) {
      throw new ApiError('conflict', `run ${runId} is already queued or running`, { field: 'runId' });
    }
    const comparison = [...this.comparisons.values()].find((c) => c.items.some((i) => i.runId === runId));
    const item = this.newItem(comparison?.comparisonId ?? 'standalone', 'resume', info.method, info.seed, 0);
    item.runId = runId;
    if (comparison) {
      comparison.items.push(item);
      await this.save(comparison);
    }
    this.jobs.push({ kind: 'resume', run: { item, controller: new AbortController() } });
    this.changed();
    void this.pump();
    return item;
  }

  /** Cancels a queued item (it never starts) or the running one (it stops after its step, checkpointed). */
  async cancel(itemId: string): Promise<boolean> {
    await this.ready;
    if (this.running?.item.itemId === itemId) {
      this.running.controller.abort();
      return true;
    }
    const resumeAt = this.jobs.findIndex((j) => j.kind === 'resume' && j.run.item.itemId === itemId);
    if (resumeAt >= 0) {
      const [removed] = this.jobs.splice(resumeAt, 1);
      await this.setStatus((removed as Extract<Job, { kind: 'resume' }>).run.item, 'skipped');
      return true;
    }
    // A run of a comparison not reached yet: the orchestrator skips it when it comes to it.
    for (const job of [this.active, ...this.jobs]) {
      if (job?.kind !== 'comparison') continue;
      const pending = [...job.runs.values()].find((p) => p.item.itemId === itemId && p.item.status === 'queued');
      if (pending) {
        pending.controller.abort();
        await this.setStatus(pending.item, 'skipped');
        return true;
      }
    }
    return false;
  }

  // ---- internals ----

  private newItem(comparisonId: string, kind: QueueItem['kind'], method: MethodName, seed: number, order: number): QueueItem {
    // enqueuedAt carries the order within one comparison (same millisecond otherwise).
    return {
      itemId: randomBytes(6).toString('hex'),
      comparisonId,
      kind,
      method,
      seed,
      status: 'queued',
      runId: null,
      enqueuedAt: new Date(Date.now() + order).toISOString(),
    };
  }

  private async pump(): Promise<void> {
    if (this.active) return;
    const next = this.jobs.shift();
    if (!next) return;
    this.active = next;
    try {
      if (next.kind === 'resume') await this.runResume(next.run);
      else await this.runComparisonJob(next);
    } finally {
      this.active = null;
      this.running = null;
      void this.pump();
    }
  }

  /** What a run's progress and start do to its item. */
  private itemHooks(pending: Pending) {
    const { item } = pending;
    return {
      onStart: (info: { runId: string }) => {
        item.runId = info.runId;
        void this.setStatus(item, 'running');
      },
      onProgress: (progress: TrainProgress) => {
        if (item.status !== 'running') {
          item.runId = progress.runId;
          void this.setStatus(item, 'running');
        }
        this.events.onProgress(progress);
      },
    };
  }

  private async ended(item: QueueItem, outcome: { result: TrainResult | null; error?: unknown }): Promise<void> {
    if (outcome.result) {
      item.runId = outcome.result.runId;
      if (outcome.result.reason) item.error = outcome.result.reason;
      await this.setStatus(item, outcome.result.status);
    } else {
      const data = toErrorData(outcome.error);
      item.error = data.message;
      await this.setStatus(item, data.code === 'cancelled' ? 'cancelled' : 'failed');
    }
  }

  private async runResume(pending: Pending): Promise<void> {
    this.running = pending;
    const { item } = pending;
    await this.setStatus(item, 'starting');
    try {
      // In the app the user picks which runs become adapters ("Save as adapter"), so the queue's runs don't.
      const result = await resume({
        home: this.home,
        runId: item.runId as string,
        signal: pending.controller.signal,
        isolate: this.isolate,
        launcher: this.launcher,
        ...this.itemHooks(pending),
        onLog: (message: string) => this.events.onLog(item, message),
        registerAdapter: false,
      });
      await this.ended(item, { result });
    } catch (err) {
      await this.ended(item, { result: null, error: err });
    }
  }

  private async runComparisonJob(job: Extract<Job, { kind: 'comparison' }>): Promise<void> {
    const pendingOf = (tag: RunTag): Pending | undefined => (tag.phase === 'final' ? job.runs.get(runKey(tag.seed, tag.method)) : undefined);
    try {
      await runComparison({
        home: this.home,
        plan: job.plan,
        isolate: this.isolate,
        launcher: this.launcher,
        registerAdapter: false,
        runSignal: (tag) => pendingOf(tag)?.controller.signal,
        onRunStart: async (tag) => {
          const pending = pendingOf(tag);
          if (!pending) return;
          this.running = pending;
          await this.setStatus(pending.item, 'starting');
        },
        onRunStarted: (tag, info) => {
          const pending = pendingOf(tag);
          if (pending) this.itemHooks(pending).onStart(info);
        },
        onRunProgress: (tag, progress) => {
          const pending = pendingOf(tag);
          if (pending) this.itemHooks(pending).onProgress(progress);
          else this.events.onProgress(progress);
        },
        onLog: (message) => {
          const item = this.running?.item ?? [...job.runs.values()][0]?.item;
          if (item) this.events.onLog(item, message);
        },
        onRunEnd: async (tag, outcome) => {
          const pending = pendingOf(tag);
          if (pending && this.running === pending) this.running = null;
          if (pending && !outcome.isSkipped) await this.ended(pending.item, outcome);
        },
      });
    } catch (err) {
      // The comparison ended early (cancelled, or invalid for every run): what never started is skipped.
      const reason = toErrorData(err).message;
      for (const { item } of job.runs.values()) {
        if (item.status !== 'queued') continue;
        item.error = `not run: ${reason}`;
        await this.setStatus(item, 'skipped');
      }
    }
  }

  private async setStatus(item: QueueItem, status: QueueItem['status']): Promise<void> {
    item.status = status;
    // Tell windows first: a run training in this process leaves file I/O little room.
    this.changed();
    const comparison = this.comparisons.get(item.comparisonId);
    if (comparison) await this.save(comparison).catch(() => undefined);
  }

  private changed(): void {
    const snapshot = [...this.comparisons.values()].flatMap((c) => c.items);
    // Standalone resumes (of runs in no comparison) are shown while queued or running.
    for (const job of [this.active, ...this.jobs]) if (job?.kind === 'resume' && !this.comparisons.has(job.run.item.comparisonId)) snapshot.push(job.run.item);
    this.events.onQueue(snapshot.map((i) => ({ ...i })).sort((a, b) => a.enqueuedAt.localeCompare(b.enqueuedAt)));
  }

  private async save(comparison: Comparison): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeJsonAtomic(join(this.dir, `${comparison.comparisonId}.json`), comparison);
  }

  /** Comparisons from disk; items a previous process left queued or running will never run: mark them. */
  private async load(): Promise<void> {
    await recoverInterruptedRuns(this.home).catch(() => []);
    if (!existsSync(this.dir)) return;
    for (const name of readdirSync(this.dir)) {
      const id = name.replace(/\.json$/, '');
      if (!name.endsWith('.json') || !COMPARISON_ID.test(id)) continue;
      try {
        const comparison = ComparisonSchema.parse(JSON.parse(readFileSync(join(this.dir, name), 'utf8')));
        let isStale = false;
        for (const item of comparison.items) {
          if (item.status === 'queued' || item.status === 'starting') {
            item.status = 'skipped';
            isStale = true;
          } else if (item.status === 'running') {
            item.status = 'interrupted';
            isStale = true;
          }
        }
        this.comparisons.set(comparison.comparisonId, comparison);
        if (isStale) await this.save(comparison);
      } catch {
        // a damaged comparison file hides only itself
      }
    }
  }
}
