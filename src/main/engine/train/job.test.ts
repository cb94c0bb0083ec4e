// A training job with PT+ data-mean centring on stories260K: μ is measured once before step 0 (and says so),
// saved in every checkpoint, and a run interrupted and resumed restores it instead of measuring it again —
// the resumed run continues on the same loss curve and ends with the same μ as an uninterrupted run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { listCheckpoints, readCheckpoint } from './checkpoint';
import { runTrainJobFromFlags as runTrainJob, type JobFlags as TrainJobSpec } from '../../cli/testing/requests-from-flags';
import { hasStoriesHf, MemoryRecorder, storiesHf, writeWeatherData } from './test-fixtures';

const isAvailable = hasStoriesHf();
let home: string;
let data: string;
let recorder: MemoryRecorder;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-job-'));
  recorder = new MemoryRecorder(join(home, 'runs'));
  data = join(home, 'weather.jsonl');
  writeWeatherData(data);
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

const phiMeans = (dir: string): Record<string, number[]> =>
  Object.fromEntries(
    Object.entries(readCheckpoint(dir).adapter)
      .filter(([name]) => name.endsWith('ptplus_phi_mean'))
      .map(([name, t]) => [name, Array.from(t.data)]),
  );

describe.skipIf(!isAvailable)('PT+ data-mean centring in a training job (stories260K)', () => {
  const spec = (): TrainJobSpec => ({
    home,
    model: storiesHf,
    data,
    method: 'ptplus',
    seed: 5,
    steps: 4,
    evalSplit: 2,
    lr: 0.05,
    set: {
      phiCenter: 'data-mean',
      memoryInitStd: '0',
      'train.batchSize': '4',
      'train.maxLength': '32',
      'train.warmupSteps': '0',
      'train.evalEvery': '0',
      'train.checkpointEvery': '2',
      'train.keepCheckpoints': '0',
    },
  });

  it('measures μ once over the training prompts before step 0, and a resumed run restores it and continues the same curve', async () => {
    const straightLogs: string[] = [];
    const straightLosses: number[] = [];
    const straight = await runTrainJob(spec(), { recorder, log: (m) => void straightLogs.push(m), onProgress: (p) => void straightLosses.push(p.trainLoss) });
    expect(straight.status).toBe('finished');
    // 10 training examples (12 less 2 held out); their prompt tokens: everything before the target.
    expect(straightLogs.filter((m) => /^computing φ mean over \d+ prompt tokens of 10 training examples$/.test(m))).toHaveLength(1);
    const straightMeans = phiMeans(straight.checkpoint!);
    expect(Object.keys(straightMeans)).toHaveLength(5);
    expect(
      Object.values(straightMeans)
        .flat()
        .some((v) => v !== 0),
    ).toBe(true);
    // μ is not trained: the first checkpoint holds the same μ as the last.
    const checkpoints = listCheckpoints(join(straight.runDir, 'checkpoints'));
    expect(checkpoints.map((c) => c.step)).toEqual([2, 4]);
    expect(phiMeans(checkpoints[0].dir)).toEqual(straightMeans);

    // The same run, cancelled after step 2 (its checkpoint), then resumed in a fresh job.
    const controller = new AbortController();
    const firstLogs: string[] = [];
    const first = await runTrainJob(spec(), {
      recorder,
      signal: controller.signal,
      log: (m) => void firstLogs.push(m),
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    expect(first.status).toBe('cancelled');
    expect(first.steps).toBe(2);
    expect(firstLogs.filter((m) => m.startsWith('computing φ mean'))).toHaveLength(1);
    expect(phiMeans(first.checkpoint!)).toEqual(straightMeans);

    const resumedLogs: string[] = [];
    const resumedLosses: { step: number; loss: number }[] = [];
    const resumed = await runTrainJob(
      { home, model: storiesHf, data, method: 'ptplus', seed: 5, runId: first.runId, resume: true },
      { recorder, log: (m) => void resumedLogs.push(m), onProgress: (p) => void resumedLosses.push({ step: p.step, loss: p.trainLoss }) },
    );
    expect(resumed.status).toBe('finished');
    expect(resumed.options).toMatchObject({ phiCenter: 'data-mean' });
    expect(resumedLogs.filter((m) => m.startsWith('computing φ mean'))).toEqual([]);
    expect(resumedLosses.map((p) => p.step)).toEqual([3, 4]);
    for (const { step, loss } of resumedLosses) expect(Math.abs(loss - straightLosses[step - 1])).toBeLessThan(1e-6);
    expect(phiMeans(resumed.checkpoint!)).toEqual(straightMeans);
    expect(resumed.final.evalLoss! - straight.final.evalLoss!).toBeCloseTo(0, 5);
  });
});

describe.skipIf(!isAvailable)('a whole training job on the wasm backend (stories260K)', () => {
  // CI's default backend is native when it loads; this runs the job path users without it get: training,
  // checkpoints and the final classification evaluation (whose kernels once included one wasm lacks).
  it.each(['lora', 'full'] as const)('%s finishes, checkpoints and evaluates on wasm, agreeing with cpu', async (method) => {
    const spec = (backend: 'wasm' | 'cpu'): TrainJobSpec => ({
      home,
      model: storiesHf,
      data,
      method,
      backend,
      seed: 3,
      steps: 3,
      evalSplit: 4,
      lr: 0.01,
      set: { 'train.batchSize': '4', 'train.maxLength': '32', 'train.warmupSteps': '0', 'train.evalEvery': '0', 'train.checkpointEvery': '3' },
    });
    const onWasm = await runTrainJob(spec('wasm'), { recorder });
    const onCpu = await runTrainJob(spec('cpu'), { recorder });
    expect(onWasm.backend).toBe('wasm');
    expect(onWasm.status).toBe('finished');
    expect(onWasm.checkpoint).not.toBeNull();
    expect(onWasm.final.evalExamples).toBe(4);
    expect(onWasm.final.accuracy).not.toBeNull();
    expect(onWasm.final.evalLoss!).toBeCloseTo(onCpu.final.evalLoss!, 3);
    expect(onWasm.final.trainLoss!).toBeCloseTo(onCpu.final.trainLoss!, 3);
    await initBackend('cpu');
  });
});
