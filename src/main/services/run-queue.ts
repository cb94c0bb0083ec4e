// The workbench's run queue: a comparison (methods × seeds on one model, split and budget) becomes queue
// items trained one at a time through the training service; cancel, resume, and persistence of comparisons
// in <home>/comparisons/<id>.json so the Train view can rebuild itself after a reload or a restart.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ComparisonSchema, type Comparison, type QueueItem } from '@shared/contract/calls/training';
import type { TrainProgress, TrainResult } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import { toErrorData } from '../platform/system-errors';
import type { MethodName } from '../engine/methods/method';
import { workerEntry } from './training/worker-protocol';
import { writeJsonAtomic } from '../platform/atomic-write';
import type { ProcessLauncher } from '../platform/process-launcher';
import { resume, train, recoverInterruptedRuns, type Isolation } from './training-service';

/** What one queued run trains: everything but the seed and method comes from its comparison. */
export interface RunPlan {
  modelPath: string;
  /** The imported dataset's folder (or a dataset file). */
  dataPath: string;
  /** The stored split every run of the comparison trains and evaluates on. */
  split?: { trainIds: string[]; evalIds: string[] };
  kPerClass?: number;
  evalSplit?: number;
  /** Trainer and method options as `--set` strings (trainer keys prefixed train.). */
  set: Record<string, string>;
  steps?: number;
  budgetTokens?: number;
  learningRate?: number;
}

export interface RunQueueEvents {
  onQueue(items: QueueItem[]): void;
  onProgress(progress: TrainProgress): void;
  onLog(item: QueueItem, message: string): void;
}

interface Pending {
  item: QueueItem;
  plan?: RunPlan;
  controller: AbortController;
}

const COMPARISON_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class RunQueue {
  private readonly comparisons = new Map<string, Comparison>();
  private readonly pending: Pending[] = [];
  private active: Pending | null = null;
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

  /** Adds a comparison and one item per seed × method (seeds outermost, as `prefixlab compare` runs them). */
  async enqueue(comparison: Omit<Comparison, 'comparisonId' | 'createdAt' | 'items'>, planFor: (method: MethodName) => RunPlan): Promise<Comparison> {
    await this.ready;
    const now = new Date();
    const comparisonId = `${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
    const full: Comparison = { ...comparison, comparisonId, createdAt: now.toISOString(), items: [] };
    let order = 0;
    for (const seed of comparison.seeds) {
      for (const choice of comparison.methods) {
        const item = this.newItem(comparisonId, 'train', choice.method, seed, order++);
        full.items.push(item);
        this.pending.push({ item, plan: planFor(choice.method), controller: new AbortController() });
      }
    }
    this.comparisons.set(comparisonId, full);
    await this.save(full);
    this.changed();
    void this.pump();
    return full;
  }

  /** Queues `runId` to continue from its newest checkpoint, in the comparison it belongs to. */
  async enqueueResume(runId: string, info: { method: MethodName; seed: number }): Promise<QueueItem> {
    await this.ready;
    if (this.active?.item.runId === runId || this.pending.some((p) => p.item.runId === runId)) {
      throw new ApiError('conflict', `run ${runId} is already queued or running`, { field: 'runId' });
    }
    const comparison = [...this.comparisons.values()].find((c) => c.items.some((i) => i.runId === runId));
    const item = this.newItem(comparison?.comparisonId ?? 'standalone', 'resume', info.method, info.seed, 0);
    item.runId = runId;
    if (comparison) {
      comparison.items.push(item);
      await this.save(comparison);
    }
    this.pending.push({ item, controller: new AbortController() });
    this.changed();
    void this.pump();
    return item;
  }

  /** Cancels a queued item (it never starts) or the running one (it stops after its step, checkpointed). */
  async cancel(itemId: string): Promise<boolean> {
    await this.ready;
    if (this.active?.item.itemId === itemId) {
      this.active.controller.abort();
      return true;
    }
    const index = this.pending.findIndex((p) => p.item.itemId === itemId);
    if (index < 0) return false;
    const [removed] = this.pending.splice(index, 1);
    await this.setStatus(removed.item, 'skipped');
    return true;
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
    const next = this.pending.shift();
    if (!next) return;
    this.active = next;
    await this.setStatus(next.item, 'starting');
    const { item } = next;
    const hooks = {
      signal: next.controller.signal,
      isolate: this.isolate,
      launcher: this.launcher,
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
      onLog: (message: string) => this.events.onLog(item, message),
    };
    try {
      let result: TrainResult;
      if (item.kind === 'resume') {
        // In the app the user picks which runs become adapters ("Save as adapter"), so the queue's runs don't.
        result = await resume({ home: this.home, runId: item.runId as string, ...hooks, registerAdapter: false });
      } else {
        const plan = next.plan as RunPlan;
        result = await train({
          home: this.home,
          model: plan.modelPath,
          data: plan.dataPath,
          method: item.method,
          set: plan.set,
          steps: plan.steps,
          budgetTokens: plan.budgetTokens,
          seed: item.seed,
          split: plan.split,
          kPerClass: plan.kPerClass,
          evalSplit: plan.evalSplit,
          lr: plan.learningRate,
          ...hooks,
          registerAdapter: false,
        });
      }
      item.runId = result.runId;
      if (result.reason) item.error = result.reason;
      await this.setStatus(item, result.status);
    } catch (err) {
      const data = toErrorData(err);
      item.error = data.message;
      await this.setStatus(item, data.code === 'cancelled' ? 'cancelled' : 'failed');
    } finally {
      this.active = null;
      void this.pump();
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
    for (const p of [this.active, ...this.pending]) if (p && !this.comparisons.has(p.item.comparisonId)) snapshot.push(p.item);
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
