// Tailing a torch run's metrics.jsonl into our progress events: whole lines only, Python's names mapped to ours,
// a rewrite (resume) starts over.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrainProgressSchema, type TrainProgress } from '@shared/contract/training';
import { MetricsTail, toProgress } from './metrics-tail';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-tail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (step: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    step,
    totalSteps: 3,
    epoch: step / 3,
    trainLoss: 1 / step,
    learningRate: 0.1,
    gradNorm: 2,
    tokensPerSecond: 50,
    tokensSeen: 8 * step,
    etaSeconds: 1,
    ...extra,
  }) + '\n';

describe('MetricsTail', () => {
  it('emits each complete line once, waits for a torn line to end, and maps accuracy to evalAccuracy', () => {
    const path = join(dir, 'metrics.jsonl');
    const seen: TrainProgress[] = [];
    const tail = new MetricsTail(path, 'run-1', (p) => void seen.push(p));
    expect(tail.poll()).toEqual([]); // no file yet
    writeFileSync(path, line(1));
    const half = line(2, { evalLoss: 0.7, accuracy: 0.5 });
    appendFileSync(path, half.slice(0, 20));
    tail.poll();
    expect(seen.map((p) => p.step)).toEqual([1]);
    appendFileSync(path, half.slice(20) + 'not json\n' + line(3));
    tail.stop();
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(seen[1]).toMatchObject({ runId: 'run-1', evalLoss: 0.7, evalAccuracy: 0.5, memory: { numTensors: 0, numBytes: 0, rssBytes: 0 } });
    for (const p of seen) expect(TrainProgressSchema.parse(p)).toEqual(p);
  });

  it('starts over when the file is rewritten shorter (a resume truncates it), without repeating steps', () => {
    const path = join(dir, 'resumed.jsonl');
    writeFileSync(path, line(1) + line(2) + line(3));
    const seen: number[] = [];
    const tail = new MetricsTail(path, 'r', (p) => void seen.push(p.step));
    tail.poll();
    writeFileSync(path, line(1));
    tail.poll();
    appendFileSync(path, line(2));
    tail.poll();
    expect(seen).toEqual([1, 2, 3]);
  });

  it('notices a rewrite that grew back past the read position, and reports only steps after afterStep', () => {
    const path = join(dir, 'regrown.jsonl');
    writeFileSync(path, line(1) + line(2) + line(3, { tokensPerSecond: 5 }));
    const seen: number[] = [];
    const tail = new MetricsTail(path, 'r', (p) => void seen.push(p.step), { afterStep: 2 });
    tail.poll();
    // Same size or more, different bytes: Python kept steps 1-2, then appended 3 and 4 before the next poll.
    writeFileSync(path, line(1) + line(2) + line(3, { tokensPerSecond: 6 }) + line(4));
    tail.poll();
    expect(seen).toEqual([3, 4]);
  });

  it('ignores lines that are not step events', () => {
    expect(toProgress({ hello: 1 }, 'r')).toBeNull();
    expect(toProgress(null, 'r')).toBeNull();
  });
});
