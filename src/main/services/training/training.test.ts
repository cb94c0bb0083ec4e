// The training service end to end on stories260K: a run in its own process relays progress and leaves a
// complete run folder; a run killed with SIGKILL is marked interrupted and resumes on the same loss curve;
// cancel stops within a step; compare runs every method on one split and budget.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompareResultSchema, TrainResultSchema, type TrainProgress } from '@shared/contract/training';
import { initBackend } from '../../engine/backend';
import { readCheckpoint } from '../../engine/train/checkpoint';
import { sha256File } from '../../engine/train/sources';
import { hasStoriesHf, storiesHf } from '../../engine/train/test-fixtures';
import { RunsStore } from '../../registry/runs-store';
import { compareFromFlags as compare, trainFromFlags as train } from '../../cli/testing/requests-from-flags';
import { resume } from './train';

const isAvailable = hasStoriesHf();
let home: string;
let data: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-training-'));
  data = join(home, 'weather.jsonl');
  const rows: string[] = [];
  const names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna'];
  for (const name of names) {
    rows.push(JSON.stringify({ text: `${name} saw the sun.`, label: 'happy' }));
    rows.push(JSON.stringify({ text: `${name} saw the rain.`, label: 'sad' }));
  }
  writeFileSync(data, rows.join('\n') + '\n');
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Small, fast runs: 4 examples per batch, short sequences, no warm-up. */
const fast = { 'train.batchSize': '4', 'train.maxLength': '32', 'train.warmupSteps': '0', 'train.evalEvery': '0' };

describe.skipIf(!isAvailable)('training service (stories260K)', () => {
  it('trains in a separate process, relays progress and leaves a complete run folder', async () => {
    const seen: TrainProgress[] = [];
    const result = await train({
      home,
      model: storiesHf,
      data,
      method: 'ptplus',
      steps: 4,
      seed: 1,
      evalSplit: 4,
      set: { ...fast, 'train.checkpointEvery': '2' },
      onProgress: (p) => void seen.push(p),
    });
    expect(TrainResultSchema.parse(result)).toEqual(result);
    expect(result.status).toBe('finished');
    expect(result.steps).toBe(4);
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(seen[3]).toMatchObject({ runId: result.runId, totalSteps: 4 });
    expect(seen[3].evalLoss).toBeGreaterThan(0);
    expect(seen[3].evalAccuracy).toBeGreaterThanOrEqual(0);
    expect(result.final.evalExamples).toBe(4);
    expect(result.final.confusion!.flat().reduce((a, b) => a + b)).toBe(4);
    expect(result.trainableParams).toBe(5 * 8 * 8 * 8);

    const store = new RunsStore(home);
    const manifest = store.read(result.runId);
    expect(manifest).toMatchObject({ status: 'finished', method: 'ptplus', seed: 1, step: 4, totalSteps: 4, backend: 'cpu' });
    expect(manifest.baseModel.files.find((f) => f.path === 'model.safetensors')!.sha256).toBe(await sha256File(join(storiesHf, 'model.safetensors')));
    expect(manifest.dataset.sha256).toBe(await sha256File(data));
    expect(manifest.dataset.evalIds).toHaveLength(4);
    expect(manifest.checkpoints.map((c) => c.step)).toEqual([2, 4]);
    expect(manifest.methodOptions).toMatchObject({ featureMap: 'elu' });
    expect(manifest.trainer).toMatchObject({ batchSize: 4, maxLength: 32 });
    expect(store.readMetrics(result.runId).map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(readCheckpoint(result.checkpoint!).state.step).toBe(4);
  });

  it('a run killed mid-way is marked interrupted and resumes on the same loss curve', async () => {
    const set = { ...fast, 'train.checkpointEvery': '3' };
    const straight: number[] = [];
    await train({ home, model: storiesHf, data, method: 'ptplus', steps: 6, seed: 2, evalSplit: 0, set, isolate: 'inline', onProgress: (p) => void straight.push(p.trainLoss) });

    let pid = 0;
    let runId = '';
    const killed = train({
      home,
      model: storiesHf,
      data,
      method: 'ptplus',
      steps: 6,
      seed: 2,
      evalSplit: 0,
      set,
      onSpawn: (p) => (pid = p),
      onStart: (info) => (runId = info.runId),
      onProgress: (p) => {
        if (p.step === 4) process.kill(pid, 'SIGKILL');
      },
    });
    await expect(killed).rejects.toThrow(/killed \(SIGKILL\).*marked interrupted/);
    const store = new RunsStore(home);
    expect(store.read(runId).status).toBe('interrupted');
    const checkpointStep = store.read(runId).checkpoints.at(-1)!.step;
    expect(checkpointStep).toBe(3);

    const resumed: TrainProgress[] = [];
    const result = await resume({ home, runId, onProgress: (p) => void resumed.push(p) });
    expect(result.status).toBe('finished');
    expect(result.steps).toBe(6);
    expect(resumed.map((p) => p.step)).toEqual([4, 5, 6]);
    resumed.forEach((p) => expect(Math.abs(p.trainLoss - straight[p.step - 1])).toBeLessThan(1e-6));
    expect(store.readMetrics(runId).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(store.read(runId).status).toBe('finished');
  });

  it('cancel stops within one step, keeps a usable checkpoint and marks the run cancelled', async () => {
    const controller = new AbortController();
    let cancelledAt = 0;
    const result = await train({
      home,
      model: storiesHf,
      data,
      method: 'lora',
      steps: 40,
      seed: 3,
      evalSplit: 0,
      set: { ...fast, dropout: '0' },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) {
          cancelledAt = p.step;
          controller.abort();
        }
      },
    });
    expect(result.status).toBe('cancelled');
    // The training process may finish the step it is in when the message lands, never more.
    expect(result.steps - cancelledAt).toBeLessThanOrEqual(1);
    expect(new RunsStore(home).read(result.runId).status).toBe('cancelled');
    expect(readCheckpoint(result.checkpoint!).state.step).toBe(result.steps);
  });

  it('PT+ with data-mean centring measures φ(q) before training; evalGenerate reports exact match', async () => {
    const result = await train({
      home,
      model: storiesHf,
      data,
      method: 'ptplus',
      steps: 2,
      seed: 4,
      evalSplit: 2,
      isolate: 'inline',
      set: { ...fast, phiCenter: 'data-mean', 'train.evalGenerate': 'true' },
    });
    expect(result.status).toBe('finished');
    expect(result.options).toMatchObject({ phiCenter: 'data-mean' });
    const means = Object.entries(readCheckpoint(result.checkpoint!).adapter).filter(([name]) => name.endsWith('ptplus_phi_mean'));
    expect(means).toHaveLength(5);
    expect(means.some(([, t]) => t.data.some((v) => v !== 0))).toBe(true);
    expect(result.final.exactMatch).toBeGreaterThanOrEqual(0);
    expect(result.final.exactMatch).toBeLessThanOrEqual(1);
  });

  it('compare runs every method on one frozen split, with the same steps for a token budget', async () => {
    const result = await compare({
      home,
      model: storiesHf,
      data,
      methods: ['ptplus', 'lora'],
      seeds: [0, 1],
      kPerClass: 2,
      budgetTokens: 120,
      evalSplit: 4,
      set: { batchSize: '4', maxLength: '32', warmupSteps: '0' },
      setPerMethod: { lora: { dropout: '0' } },
      isolate: 'inline',
    });
    expect(CompareResultSchema.parse(result)).toEqual(result);
    expect(result.rows.map((r) => r.method)).toEqual(['ptplus', 'lora']);
    expect(result.runs).toHaveLength(4);
    expect(new Set(result.runs.map((r) => r.totalSteps)).size).toBe(1);
    for (const row of result.rows) {
      expect(row.accuracyMean).toBeGreaterThanOrEqual(0);
      expect(row.accuracyStd).toBeGreaterThanOrEqual(0);
      expect(row.failedRuns).toBe(0);
      expect(row.trainableParams).toBeGreaterThan(0);
    }
    const store = new RunsStore(home);
    const manifests = result.runs.map((r) => store.read(r.runId));
    expect(new Set(manifests.map((m) => m.dataset.evalIds.join(','))).size).toBe(1);
    // Same seed → same k-shot set for every method.
    const bySeed = (seed: number) => new Set(manifests.filter((m) => m.seed === seed).map((m) => m.dataset.trainIds.join(',')));
    expect(bySeed(0).size).toBe(1);
    expect(bySeed(1).size).toBe(1);
    expect(existsSync(join(store.runDir(result.runs[0].runId), 'metrics.jsonl'))).toBe(true);
    expect(readFileSync(join(store.runDir(result.runs[0].runId), 'manifest.json'), 'utf8')).toContain('"kPerClass": 2');
  });
});
