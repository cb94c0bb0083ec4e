// A run with a test file (`--eval-data`) on the llama-gqa fixture model and the SST-2 fixture files
// (tests/fixtures/eval-data): cancelled after its step-2 checkpoint and resumed, it continues on the same loss and
// test curve and ends with the uninterrupted run's `finalTest`, its manifest still carrying dataset.evalData; and
// `prefixlab eval --adapter RUN --data TESTFILE` reproduces that `finalTest` block (generation included).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinalMetrics, TrainProgress } from '@shared/contract/training';
import { initBackend } from '../../engine/backend';
import { fixturesDir } from '../../engine/test-paths';
import { sha256File } from '../../engine/train/sources';
import { RunsStore } from '../../registry/runs-store';
import { cli } from '../../cli/cli-harness';
import { trainFromFlags } from '../../cli/testing/requests-from-flags';
import type { EvalResult } from '../eval-service';
import { unloadModels } from '../model-service';
import { resume } from './train';

const llama = join(fixturesDir, 'llama-gqa');
const dataDir = resolve(fixturesDir, '../eval-data');
const trainFile = join(dataDir, 'sst2-train.tsv');
const testFile = join(dataDir, 'sst2-test.tsv');
let home: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-eval-data-resume-'));
});

afterAll(async () => {
  await unloadModels();
  rmSync(home, { recursive: true, force: true });
});

const set = {
  'train.batchSize': '4',
  'train.maxLength': '48',
  'train.warmupSteps': '0',
  'train.evalEvery': '2',
  'train.checkpointEvery': '2',
  'train.keepCheckpoints': '0',
  'train.evalGenerate': 'true',
};
const run = (hooks: Parameters<typeof trainFromFlags>[0] extends infer R ? Partial<R> : never) =>
  trainFromFlags({ home, model: llama, data: trainFile, evalData: testFile, evalSplit: 4, method: 'lora', steps: 4, seed: 3, lr: 0.05, set, isolate: 'inline', ...hooks });

function expectSameTest(got: FinalMetrics | undefined, want: FinalMetrics | undefined): void {
  expect(got).toBeDefined();
  expect(want).toBeDefined();
  expect(got!.evalExamples).toBe(want!.evalExamples);
  expect(got!.accuracy).toBe(want!.accuracy);
  expect(got!.confusion).toEqual(want!.confusion);
  expect(got!.perClassAccuracy).toEqual(want!.perClassAccuracy);
  expect(got!.exactMatch).toBe(want!.exactMatch);
  expect(got!.evalLoss! - want!.evalLoss!).toBeCloseTo(0, 5);
}

describe('--eval-data across a resume, and `eval` on the test file', () => {
  it('a run cancelled mid-way and resumed ends with the uninterrupted run’s finalTest; eval --adapter RUN --data TESTFILE reproduces it', async () => {
    const straight: TrainProgress[] = [];
    const whole = await run({ onProgress: (p) => void straight.push(p) });
    expect(whole.status).toBe('finished');
    expect(whole.finalTest?.evalExamples).toBe(8);
    expect(whole.finalTest?.exactMatch).not.toBeNull();

    const controller = new AbortController();
    const first = await run({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    expect(first.status).toBe('cancelled');
    expect(first.steps).toBe(2);

    const resumed: TrainProgress[] = [];
    const result = await resume({ home, runId: first.runId, isolate: 'inline', onProgress: (p) => void resumed.push(p) });
    expect(result.status).toBe('finished');
    expect(resumed.map((p) => p.step)).toEqual([3, 4]);
    for (const p of resumed) {
      const q = straight[p.step - 1];
      expect(Math.abs(p.trainLoss - q.trainLoss)).toBeLessThan(1e-6);
    }
    // The step-4 evaluation scored the test file again, on the same curve.
    expect(resumed[1].testLoss! - straight[3].testLoss!).toBeCloseTo(0, 5);
    expect(resumed[1].testAccuracy).toBe(straight[3].testAccuracy);
    expectSameTest(result.finalTest, whole.finalTest);

    const manifest = new RunsStore(home).read(first.runId);
    expect(manifest.dataset.evalData).toEqual({ path: testFile, sha256: await sha256File(testFile), examples: 8 });
    expect(manifest.runSpec?.data.evalPath).toBe(testFile);
    expectSameTest(manifest.finalTest, whole.finalTest);

    // `prefixlab eval` on the test file with the run's adapter: the same block.
    const r = await cli(['eval', '--model', llama, '--adapter', whole.runId, '--data', testFile, '--home', home, '--backend', 'cpu', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as EvalResult;
    const t = whole.finalTest!;
    expect(got.rows).toBe(t.evalExamples);
    expect(got.accuracy).toBe(t.accuracy);
    expect(got.evalLoss).toBeCloseTo(t.evalLoss!, 6);
    expect(got.perClassAccuracy).toEqual(t.perClassAccuracy);
    expect(got.labels).toEqual(t.labels);
    expect(got.confusion).toEqual(t.confusion);
    expect(got.exactMatch).toBe(t.exactMatch);
  }, 300_000);
});
