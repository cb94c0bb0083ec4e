// training.start with a test set (testDatasetId): another imported dataset whose source file becomes every run's
// test file (RunSpec data.evalPath, as `--eval-data`), recorded on the comparison; a bad choice — unknown id, the
// training dataset itself, another task, labels the training split lacks, a source file changed since import — is
// one line naming the dataset (or its file), and nothing is queued.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainingCalls, type Comparison } from '@shared/contract/calls/training';
import type { DatasetManifest } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { importDataset } from '../datasets/store/import-dataset';
import { fixturesDir } from '../engine/test-paths';
import type { ComparePlan } from '../services/training/compare';
import { trainingHandlers } from './training';

const dataDir = resolve(fixturesDir, '../eval-data');
let home: string;
let train: DatasetManifest;
let test: DatasetManifest;
let testFile: string;
const queued: { comparison: Omit<Comparison, 'comparisonId' | 'createdAt' | 'items'>; plan: ComparePlan }[] = [];

const ctx = (): AppContext =>
  ({
    options: { home },
    models: { get: async (id: string) => ({ id, name: 'llama-gqa', path: join(fixturesDir, 'llama-gqa') }) },
    runs: {
      enqueue: async (comparison: (typeof queued)[number]['comparison'], plan: ComparePlan) => {
        queued.push({ comparison, plan });
        return { ...comparison, comparisonId: 'c1', createdAt: new Date().toISOString(), items: [] };
      },
    },
  }) as unknown as AppContext;

const start = (extra: Record<string, unknown>) =>
  trainingHandlers['training.start'](
    trainingCalls['training.start'].request.parse({ modelId: 'm1', datasetId: train.id, splitName: 'default', methods: [{ method: 'lora' }], seeds: [1], steps: 2, ...extra }),
    ctx(),
  );

async function failure(extra: Record<string, unknown>): Promise<ApiError> {
  const before = queued.length;
  const err = await start(extra).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  expect(queued.length).toBe(before);
  expect((err as ApiError).message.split('\n')).toHaveLength(1);
  return err as ApiError;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'prefixlab-training-test-dataset-'));
  const trainFile = join(home, 'sst2-train.tsv');
  testFile = join(home, 'sst2-test.tsv');
  copyFileSync(join(dataDir, 'sst2-train.tsv'), trainFile);
  copyFileSync(join(dataDir, 'sst2-test.tsv'), testFile);
  train = await importDataset(trainFile, { split: { seed: 1, evalFraction: 0.25 } }, home);
  test = await importDataset(testFile, {}, home);
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('training.start with testDatasetId', () => {
  it("makes the test dataset's source file every run's test file and records it on the comparison", async () => {
    const comparison = await start({ testDatasetId: test.id });
    expect(comparison).toMatchObject({ testDatasetId: test.id, testDatasetName: 'sst2-test.tsv', datasetId: train.id });
    const { plan } = queued.at(-1)!;
    expect(plan.base.data.evalPath).toBe(testFile);
    expect(plan.base.data.datasetId).toBe(train.id);
  });

  it('without one, no test file', async () => {
    const comparison = await start({});
    expect(comparison.testDatasetId).toBeUndefined();
    expect(queued.at(-1)!.plan.base.data.evalPath).toBeUndefined();
  });

  it('an unknown id, or the training dataset itself: one line naming the field', async () => {
    const missing = await failure({ testDatasetId: 'no-such-dataset' });
    expect(missing.code).toBe('not_found');
    expect(missing.message).toBe('no imported dataset "no-such-dataset" to test on');
    expect(missing.field).toBe('testDatasetId');
    const same = await failure({ testDatasetId: train.id });
    expect(same.message).toBe('the test dataset is the training dataset "sst2-train.tsv"; pick another imported dataset');
  });

  it('another task, or labels the training split never trains on: one line naming both datasets', async () => {
    const qa = join(home, 'qa.jsonl');
    writeFileSync(qa, '{"prompt":"one two","completion":" three"}\n{"prompt":"a b","completion":" c"}\n');
    const other = await importDataset(qa, {}, home);
    const task = await failure({ testDatasetId: other.id });
    expect(task.message).toBe(`test dataset "qa.jsonl" is a ${other.task} dataset, the training dataset "sst2-train.tsv" is classification`);

    const three = join(home, 'three-labels.tsv');
    writeFileSync(three, 'sentence\tlabel\nfine .\t1\nso so .\t2\n');
    const labelled = await importDataset(three, {}, home);
    const labels = await failure({ testDatasetId: labelled.id });
    expect(labels.message).toBe('test dataset "three-labels.tsv" has label 2 that the training split of "sst2-train.tsv" never trains on');
  });

  it('a source file changed since import: one line naming the file', async () => {
    const file = join(home, 'changing.tsv');
    copyFileSync(testFile, file);
    const changing = await importDataset(file, {}, home);
    writeFileSync(file, 'sentence\tlabel\nchanged .\t1\n');
    const err = await failure({ testDatasetId: changing.id });
    expect(err.code).toBe('conflict');
    expect(err.message).toBe('the source file of test dataset "changing.tsv" changed since it was imported; import it again');
    expect(err.file).toBe(file);
  });
});

describe('training.start engine', () => {
  it("engine 'torch' makes every run's spec a torch run and is recorded on the comparison; the default is tfjs", async () => {
    const torch = await start({ engine: 'torch' });
    expect(torch.engine).toBe('torch');
    expect(queued.at(-1)!.plan.base.engine).toBe('torch');
    const plain = await start({});
    expect(plain.engine).toBeUndefined();
    expect(queued.at(-1)!.plan.base.engine).toBe('tfjs');
    expect(() =>
      trainingCalls['training.start'].request.parse({
        modelId: 'm1',
        datasetId: train.id,
        splitName: 'default',
        methods: [{ method: 'lora' }],
        seeds: [1],
        steps: 2,
        engine: 'jax',
      }),
    ).toThrow();
  });
});
