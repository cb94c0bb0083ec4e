// Run folders under <home>/runs/<runId>/: manifest.json (written atomically), metrics.jsonl (one progress
// event per line, appended) and checkpoints/. Finds runs left 'running' by a process that died (or whose pid
// now belongs to another process: the recorded start time tells them apart).
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ApiError, zodIssueError } from '@shared/errors';
import { RunManifestSchema, TrainProgressSchema, type RunManifest, type TrainProgress } from '@shared/contract/training';
import { writeFileAtomic, writeJsonAtomic } from '../platform/atomic-write';
import { readRunManifestJson } from './entries';
import { isOwnerAlive } from '../platform/process-identity';
import type { RunRecorder } from '../engine/train/run-recorder';

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Also the run recorder a training job is handed (engine/train/run-recorder.ts). */
export class RunsStore implements RunRecorder {
  readonly root: string;

  constructor(home: string) {
    this.root = join(home, 'runs');
  }

  /** A new id: UTC time, method and 4 random hex digits (sortable by start time). */
  static newRunId(method: string, now = new Date()): string {
    const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    return `${stamp}-${method}-${randomBytes(2).toString('hex')}`;
  }

  newRunId(method: string): string {
    return RunsStore.newRunId(method);
  }

  runDir(runId: string): string {
    if (!RUN_ID.test(runId)) throw new ApiError('invalid_argument', `"${runId}" is not a valid run id`, { field: 'runId' });
    return join(this.root, runId);
  }

  checkpointsDir(runId: string): string {
    return join(this.runDir(runId), 'checkpoints');
  }

  /** Creates the run folder and its first manifest; fails if the run exists. */
  async create(manifest: RunManifest): Promise<string> {
    const dir = this.runDir(manifest.runId);
    if (existsSync(join(dir, 'manifest.json'))) throw new ApiError('already_exists', `run ${manifest.runId} already exists`, { file: dir });
    mkdirSync(join(dir, 'checkpoints'), { recursive: true });
    await writeJsonAtomic(join(dir, 'manifest.json'), RunManifestSchema.parse(manifest));
    return dir;
  }

  read(runId: string): RunManifest {
    const path = join(this.runDir(runId), 'manifest.json');
    if (!existsSync(path)) throw new ApiError('not_found', `run ${runId} does not exist`, { file: path });
    const read = readRunManifestJson(path);
    if ('problem' in read) throw new ApiError('bad_file', `run ${runId} is damaged: ${read.problem}`, { file: path });
    const parsed = RunManifestSchema.safeParse(read.raw);
    if (!parsed.success) throw zodIssueError(parsed.error, 'bad_file', 'run manifest is invalid', { file: path });
    return parsed.data;
  }

  /** Read-modify-write of the manifest (one writer per run: its training process, or the service after it exited). */
  async update(runId: string, change: (manifest: RunManifest) => RunManifest | void): Promise<RunManifest> {
    const current = this.read(runId);
    const next = change(current) ?? current;
    await writeJsonAtomic(join(this.runDir(runId), 'manifest.json'), RunManifestSchema.parse(next));
    return next;
  }

  appendMetrics(runId: string, point: TrainProgress): void {
    appendFileSync(join(this.runDir(runId), 'metrics.jsonl'), JSON.stringify(point) + '\n');
  }

  /** Drops progress events after `step` (a resumed run repeats the steps its last checkpoint did not keep). */
  async truncateMetrics(runId: string, step: number): Promise<void> {
    const path = join(this.runDir(runId), 'metrics.jsonl');
    if (!existsSync(path)) return;
    const kept = this.readMetrics(runId).filter((p) => p.step <= step);
    await writeFileAtomic(path, kept.map((p) => JSON.stringify(p) + '\n').join(''));
  }

  /** Progress events of a run in order; a torn last line (crash mid-append) is skipped. */
  readMetrics(runId: string): TrainProgress[] {
    const path = join(this.runDir(runId), 'metrics.jsonl');
    if (!existsSync(path)) return [];
    const out: TrainProgress[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const parsed = TrainProgressSchema.safeParse(JSON.parse(line));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // torn line
      }
    }
    return out;
  }

  /** Every readable run, newest first (unreadable folders are skipped here; registry listings show them 'damaged'). */
  list(): RunManifest[] {
    if (!existsSync(this.root)) return [];
    const runs: RunManifest[] = [];
    for (const name of readdirSync(this.root)) {
      if (!RUN_ID.test(name) || !existsSync(join(this.root, name, 'manifest.json'))) continue;
      try {
        runs.push(this.read(name));
      } catch {
        // a damaged manifest does not hide the other runs
      }
    }
    return runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  /**
   * Marks runs still 'running' whose process is gone as 'interrupted' (a crash, a kill, a power cut), also
   * when their pid now belongs to a process that started at another time. A run of another host is left
   * alone. Returns the ids it marked.
   */
  async markInterrupted(isAlive: (pid: number, startTime?: number) => boolean = isOwnerAlive): Promise<string[]> {
    const marked: string[] = [];
    for (const run of this.list()) {
      if (run.status !== 'running' || run.hostname !== hostname() || isAlive(run.pid, run.pidStartTime)) continue;
      await this.update(run.runId, (m) => ({
        ...m,
        status: 'interrupted',
        reason: `the training process (pid ${m.pid}) ended without finishing the run`,
        endedAt: new Date().toISOString(),
      }));
      marked.push(run.runId);
    }
    return marked;
  }
}
