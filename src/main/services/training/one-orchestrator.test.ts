// One comparison orchestrator: `prefixlab compare` (compare) and the app's run queue (RunQueue) both run a
// comparison through runComparison, so the same plan trains the same RunSpecs in the same order either way,
// and neither keeps a loop of its own over methods × seeds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { TrainResult } from '@shared/contract/training';
import type { RunSpec } from '@shared/run-spec';

const trained = vi.hoisted(() => [] as { spec: RunSpec; registerAdapter?: boolean }[]);
vi.mock('./train', () => ({
  recoverInterruptedRuns: async () => [],
  resume: vi.fn(),
  train: vi.fn(async (req: { spec: RunSpec; registerAdapter?: boolean }): Promise<TrainResult> => {
    trained.push({ spec: req.spec, registerAdapter: req.registerAdapter });
    return {
      runId: `run-${trained.length}`,
      runDir: '/tmp/run',
      status: 'finished',
      method: req.spec.method.name,
      options: req.spec.method.options,
      trainer: {},
      learningRate: req.spec.trainer.learningRate ?? 0.01,
      seed: req.spec.seed,
      backend: 'cpu',
      trainableParams: 1,
      steps: 2,
      totalSteps: 2,
      tokensSeen: 1,
      tokensPerSecond: 1,
      peakMemoryBytes: 1,
      peakRssBytes: 1,
      wallSeconds: 1,
      checkpoint: null,
      final: { trainLoss: 1, evalLoss: 1, accuracy: 0.5, perClassAccuracy: null, labels: null, confusion: null, exactMatch: null, evalExamples: 1 },
    };
  }),
}));
const { compare, comparePlanOf } = await import('./compare');
const { RunQueue } = await import('../run-queue');

const home = mkdtempSync(join(tmpdir(), 'prefixlab-orchestrator-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const plan = comparePlanOf({
  modelPath: '/m',
  dataPath: '/d',
  datasetId: 'd',
  split: { name: 'default', seed: 4, trainIds: ['a', 'b'], evalIds: ['c'] },
  methods: [
    { method: 'ptplus', options: { featureMap: 'gelu' } },
    { method: 'lora', learningRate: 0.002 },
  ],
  seeds: [1, 2],
  trainer: { steps: 2, batchSize: 4 },
});

describe('one comparison orchestrator', () => {
  it('the CLI and the app queue train the same RunSpecs, seeds outermost, through runComparison', async () => {
    const result = await compare({ home, plan });
    const fromCli = trained.splice(0).map((t) => t.spec);
    expect(fromCli.map((s) => `${s.method.name}/${s.seed}`)).toEqual(['ptplus/1', 'lora/1', 'ptplus/2', 'lora/2']);
    expect(fromCli[1]).toMatchObject({
      data: { path: '/d', split: { seed: 4, frozen: { trainIds: ['a', 'b'], evalIds: ['c'] } } },
      trainer: { learningRate: 0.002, steps: 2, batchSize: 4 },
    });
    expect(fromCli[0]?.trainer).not.toHaveProperty('learningRate');
    expect(result.rows.map((r) => r.method)).toEqual(['ptplus', 'lora']);

    const queue = new RunQueue(home, { onQueue: () => undefined, onProgress: () => undefined, onLog: () => undefined }, 'inline');
    const comparison = await queue.enqueue(
      { modelId: 'm', modelName: 'm', datasetId: 'd', datasetName: 'd', splitName: 'default', methods: [], seeds: [1, 2], steps: 2, budgetTokens: null, trainer: {} },
      plan,
    );
    await vi.waitFor(async () => expect((await queue.items()).filter((i) => i.comparisonId === comparison.comparisonId).map((i) => i.status)).toEqual(Array(4).fill('finished')));
    const fromApp = trained.splice(0);
    expect(fromApp.map((t) => t.spec)).toEqual(fromCli);
    // In the app the user picks which runs become adapters.
    expect(fromApp.every((t) => t.registerAdapter === false)).toBe(true);
  });

  it('neither the queue nor the CLI loops over methods × seeds itself', () => {
    const source = (file: string) => readFileSync(new URL(file, import.meta.url), 'utf8');
    const queue = source('../run-queue.ts');
    expect(queue).toMatch(/import \{ runComparison, .*\} from '\.\/training\/compare'/);
    expect(queue).not.toMatch(/\btrain\(/);
    const cli = source('../../cli/commands/train.ts');
    expect(cli).toMatch(/import \{ compare \} from '\.\.\/\.\.\/services\/training\/compare'/);
  });
});
