import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueItem } from '@shared/contract/calls/training';

// The training service is replaced by runs that end when the test says so (the queue reaches it through the
// comparison orchestrator, training/compare.ts).
const started: { method: string; seed: number; signal?: AbortSignal; finish: (status: string) => void }[] = [];
vi.mock('./training/train', () => ({
  recoverInterruptedRuns: async () => [],
  resume: vi.fn(),
  train: vi.fn(
    (req: { spec: { method: { name: string }; seed: number }; signal?: AbortSignal; onStart?: (i: { runId: string }) => void }) =>
      new Promise((resolve) => {
        const { name: method } = req.spec.method;
        const { seed } = req.spec;
        const runId = `run-${method}-${seed}`;
        req.onStart?.({ runId });
        started.push({ method, seed, signal: req.signal, finish: (status) => resolve({ runId, status }) });
      }),
  ),
}));
const { RunQueue } = await import('./run-queue');
const { comparePlanOf } = await import('./training/compare');

let home: string;
let snapshots: QueueItem[][];
const events = () => ({ onQueue: (items: QueueItem[]) => snapshots.push(items), onProgress: () => undefined, onLog: () => undefined });
const comparison = (methods: ('ptplus' | 'lora')[], seeds: number[]) => ({
  modelId: 'm',
  modelName: 'm',
  datasetId: 'd',
  datasetName: 'd',
  splitName: 'default',
  methods: methods.map((method) => ({ method, options: {} })),
  seeds,
  steps: 4,
  budgetTokens: null,
  trainer: {},
});
/** The comparison record and its plan (what training.start hands the queue). */
const withPlan = (methods: ('ptplus' | 'lora')[], seeds: number[]) =>
  [
    comparison(methods, seeds),
    comparePlanOf({
      modelPath: '/m',
      dataPath: '/d',
      datasetId: 'd',
      split: { name: 'default', seed: 0, trainIds: ['a'], evalIds: ['b'] },
      methods: methods.map((method) => ({ method })),
      seeds,
      trainer: { steps: 4 },
    }),
  ] as const;
const statusOf = (items: QueueItem[]) => items.map((i) => `${i.method}/${i.seed}:${i.status}`);

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'prefixlab-queue-'));
  snapshots = [];
  started.length = 0;
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('run queue', () => {
  it('trains one run at a time, seeds outermost, in the order the methods were given', async () => {
    const queue = new RunQueue(home, events(), 'inline');
    await queue.enqueue(...withPlan(['ptplus', 'lora'], [0, 1]));
    await vi.waitFor(() => expect(started).toHaveLength(1));
    expect(statusOf(await queue.items())).toEqual(['ptplus/0:running', 'lora/0:queued', 'ptplus/1:queued', 'lora/1:queued']);
    started[0].finish('finished');
    await vi.waitFor(() => expect(started).toHaveLength(2));
    expect(started[1]).toMatchObject({ method: 'lora', seed: 0 });
    expect((await queue.items())[0].runId).toBe('run-ptplus-0');
  });

  it('cancelling a queued run skips it; cancelling the running one aborts it and the queue moves on', async () => {
    const queue = new RunQueue(home, events(), 'inline');
    const c = await queue.enqueue(...withPlan(['ptplus', 'lora'], [0]));
    await vi.waitFor(() => expect(started).toHaveLength(1));
    expect(await queue.cancel(c.items[1].itemId)).toBe(true);
    expect(await queue.cancel(c.items[0].itemId)).toBe(true);
    expect(started[0].signal?.aborted).toBe(true);
    started[0].finish('cancelled');
    await vi.waitFor(async () => expect(statusOf(await queue.items())).toEqual(['ptplus/0:cancelled', 'lora/0:skipped']));
    expect(started).toHaveLength(1);
    expect(snapshots.length).toBeGreaterThan(2);
  });

  it('a restarted process shows what never ran as skipped and what was running as interrupted', async () => {
    const queue = new RunQueue(home, events(), 'inline');
    await queue.enqueue(...withPlan(['ptplus', 'lora'], [0]));
    await vi.waitFor(() => expect(started).toHaveLength(1));
    const reopened = new RunQueue(home, events(), 'inline');
    expect(statusOf(await reopened.items())).toEqual(['ptplus/0:interrupted', 'lora/0:skipped']);
    expect((await reopened.list())[0].methods.map((m) => m.method)).toEqual(['ptplus', 'lora']);
    started[0].finish('finished');
  });
});
