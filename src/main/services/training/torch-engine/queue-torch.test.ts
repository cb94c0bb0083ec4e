// The app's run queue trains a comparison whose engine is torch (training.start engine: 'torch') through the
// torch engine, with the Python the app finds ($PREFIXLAB_PYTHON here: the fake engine of fake-python.ts), and
// the finished run lands in the registry like any other.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../engine/backend';
import { hasStoriesHf, storiesHf } from '../../../engine/train/test-fixtures';
import { RunsStore } from '../../../registry/runs-store';
import { RunQueue } from '../../run-queue';
import { comparePlanOf } from '../compare';
import { fakePythonEnv, writeFakePython } from './fake-python';
import { writeWeatherData } from './real-python-fixture';

let home: string;
let data: string;
const saved = { ...process.env };

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-queue-torch-'));
  data = writeWeatherData(join(home, 'weather.jsonl'), ['Lily', 'Tom', 'Sam', 'Mia']);
  Object.assign(process.env, fakePythonEnv({ plan: { totalSteps: 2, checkpointEvery: 1 } }), { PREFIXLAB_PYTHON: writeFakePython(join(home, 'bin')) });
});
afterAll(() => {
  process.env = saved;
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!hasStoriesHf())('the run queue with engine torch', () => {
  it('trains through the torch engine and records a torch run', async () => {
    const plan = comparePlanOf({
      engine: 'torch',
      modelPath: storiesHf,
      dataPath: data,
      datasetId: 'weather',
      split: { name: 'default', seed: 0, trainIds: ['1', '2', '3', '4', '5', '6'], evalIds: ['7', '8'] },
      methods: [{ method: 'lora', options: { dropout: 0 } }],
      seeds: [1],
      trainer: { steps: 2, batchSize: 2, maxLength: 32 },
    });
    expect(plan.base.engine).toBe('torch');
    const queue = new RunQueue(home, { onQueue: () => undefined, onProgress: () => undefined, onLog: () => undefined }, 'inline');
    const comparison = await queue.enqueue(
      {
        modelId: 'm',
        modelName: 'm',
        datasetId: 'weather',
        datasetName: 'weather',
        splitName: 'default',
        methods: [],
        seeds: [1],
        steps: 2,
        budgetTokens: null,
        trainer: {},
        engine: 'torch',
      },
      plan,
    );
    await vi.waitFor(async () => expect((await queue.items()).filter((i) => i.comparisonId === comparison.comparisonId).map((i) => i.status)).toEqual(['finished']), {
      timeout: 60_000,
      interval: 200,
    });
    const [run] = new RunsStore(home).list();
    const manifest = new RunsStore(home).read(run.runId);
    expect(manifest).toMatchObject({ status: 'finished', method: 'lora' });
    expect(manifest.runSpec?.engine).toBe('torch');
    expect(manifest.backend).toMatch(/^torch/);
  }, 90_000);
});
