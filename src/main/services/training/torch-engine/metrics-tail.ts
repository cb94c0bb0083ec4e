// Follows the metrics.jsonl a torch run appends (one JSON line per step, flushed per line) and turns each
// complete line into the progress event our engine emits (TrainProgress). Polled, not fs.watch (which misses
// appends on some file systems); each poll reads at most `maxBytesPerPoll`; a torn last line waits for its end.
// A resume rewrites the file (Python drops the steps after its checkpoint): the bytes just before the read
// position are compared on every poll, so a rewrite is noticed even when the file has grown back past it.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { TrainProgressSchema, type TrainProgress } from '@shared/contract/training';

const MARK_BYTES = 64;
const NO_MEMORY = { numTensors: 0, numBytes: 0, rssBytes: 0 };

/** A metrics line as Python writes it (torch-format.md) → our event; null when it is not a step line. */
export function toProgress(raw: unknown, runId: string): TrainProgress | null {
  if (!raw || typeof raw !== 'object') return null;
  const line = raw as Record<string, unknown>;
  // Python names the eval accuracy `accuracy`; ours is `evalAccuracy`.
  const evalAccuracy = line.evalAccuracy ?? line.accuracy;
  const candidate = {
    ...line,
    runId,
    ...(evalAccuracy !== undefined && evalAccuracy !== null ? { evalAccuracy } : {}),
    memory: line.memory ?? NO_MEMORY,
  };
  for (const key of ['evalLoss', 'evalAccuracy', 'testLoss', 'testAccuracy'] as const) {
    if (candidate[key as keyof typeof candidate] === null) delete (candidate as Record<string, unknown>)[key];
  }
  const parsed = TrainProgressSchema.safeParse(candidate);
  return parsed.success ? parsed.data : null;
}

export class MetricsTail {
  private offset = 0;
  private pending = '';
  private timer: NodeJS.Timeout | null = null;
  /** The bytes just before `offset` as last read. */
  private mark: Buffer = Buffer.alloc(0);
  private lastStep: number;

  constructor(
    private readonly path: string,
    private readonly runId: string,
    private readonly onProgress: (p: TrainProgress) => void,
    private readonly opts: { pollMs?: number; maxBytesPerPoll?: number; fromOffset?: number; afterStep?: number } = {},
  ) {
    this.offset = opts.fromOffset ?? 0;
    this.lastStep = opts.afterStep ?? 0;
  }

  start(): void {
    this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 250);
    this.timer.unref?.();
  }

  /** Reads what was appended since the last poll; returns the events emitted. */
  poll(): TrainProgress[] {
    if (!existsSync(this.path)) return [];
    const out: TrainProgress[] = [];
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return out;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset || !this.isMarkIntact(fd)) {
        // Rewritten (a resume truncated it): start over; steps already reported are skipped below.
        this.offset = 0;
        this.pending = '';
        this.mark = Buffer.alloc(0);
      }
      const length = Math.min(size - this.offset, this.opts.maxBytesPerPoll ?? 1 << 20);
      if (length <= 0) return out;
      const buf = Buffer.alloc(length);
      const read = readSync(fd, buf, 0, length, this.offset);
      this.offset += read;
      const chunk = buf.subarray(0, read);
      this.mark = Buffer.concat([this.mark, chunk]).subarray(-MARK_BYTES);
      const text = this.pending + chunk.toString('utf8');
      const lines = text.split('\n');
      this.pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          continue;
        }
        const progress = toProgress(raw, this.runId);
        // A resumed run's file still holds the steps before its checkpoint: those were reported the first time.
        if (!progress || progress.step <= this.lastStep) continue;
        this.lastStep = progress.step;
        out.push(progress);
        this.onProgress(progress);
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }

  private isMarkIntact(fd: number): boolean {
    if (this.mark.length === 0) return true;
    const now = Buffer.alloc(this.mark.length);
    const read = readSync(fd, now, 0, now.length, this.offset - this.mark.length);
    return read === now.length && now.equals(this.mark);
  }

  /** Stops polling after one last read. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Drain what is left (bounded per poll: loop until nothing more comes).
    let before: number;
    do {
      before = this.offset;
      this.poll();
    } while (this.offset !== before);
  }
}
