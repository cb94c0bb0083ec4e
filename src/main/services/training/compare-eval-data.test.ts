// `prefixlab compare --eval-data FILE --tune-lr` in this process, on the llama-gqa fixture model and the SST-2
// fixture files (tests/fixtures/eval-data): learning-rate tuning reads only the training file — every encoded
// prompt and every scored example is recorded with the phase of its run, and no test-file row appears while
// tuning — while the seeds' runs score the test file and the table reports it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CompareResultSchema } from '@shared/contract/training';
import { initBackend } from '../../engine/backend';
import { fixturesDir } from '../../engine/test-paths';
import { readEvalExamples, readExamples } from '../../engine/train/sources';
import { RunsStore } from '../../registry/runs-store';
import { compareFromFlags as compare } from '../../cli/testing/requests-from-flags';
import { formatCompareTable } from '../../cli/commands/train';

const seen = vi.hoisted(() => ({ phase: 'none' as string, encodedPrompts: [] as { phase: string; prompt: string }[], scoredPrompts: [] as { phase: string; prompt: string }[] }));

vi.mock('../../engine/train/encode', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../engine/train/encode')>();
  return {
    ...actual,
    encodeExample: (...args: Parameters<typeof actual.encodeExample>) => {
      seen.encodedPrompts.push({ phase: seen.phase, prompt: args[1].prompt });
      return actual.encodeExample(...args);
    },
  };
});

vi.mock('../../engine/eval/classify', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../engine/eval/classify')>();
  return {
    ...actual,
    evaluateExamples: (...args: Parameters<typeof actual.evaluateExamples>) => {
      for (const e of args[2]) seen.scoredPrompts.push({ phase: seen.phase, prompt: e.prompt });
      return actual.evaluateExamples(...args);
    },
  };
});

const model = join(fixturesDir, 'llama-gqa');
const dataDir = resolve(fixturesDir, '../eval-data');
const trainFile = join(dataDir, 'sst2-train.tsv');
const testFile = join(dataDir, 'sst2-test.tsv');
let home: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-compare-eval-data-'));
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('compare --eval-data --tune-lr', () => {
  it('tunes on the training file only, then scores the test file in every seed run and in the table', async () => {
    const trainPrompts = new Set((await readExamples(trainFile)).map((e) => e.prompt));
    const testPrompts = new Set((await readEvalExamples(testFile, trainFile)).map((e) => e.prompt));
    expect([...testPrompts].filter((p) => trainPrompts.has(p))).toEqual([]); // the files share no row

    const result = await compare({
      home,
      model,
      data: trainFile,
      evalData: testFile,
      methods: ['lora'],
      seeds: [0],
      steps: 2,
      set: { batchSize: '4', maxLength: '48', warmupSteps: '0', evalEvery: '1', checkpointEvery: '0' },
      tuneLr: { grid: { lora: [1e-3, 1e-2] }, steps: 1, valSplit: 4 },
      isolate: 'inline',
      onRunStart: (info) => {
        seen.phase = info.phase;
      },
    });
    seen.phase = 'none';
    expect(CompareResultSchema.parse(result)).toEqual(result);

    // Without --eval-split nothing of the training file is held out: tuning carves its validation rows from all 16.
    const tuning = result.tuning!;
    expect(tuning.valIds).toHaveLength(4);
    expect(tuning.trainPoolSize).toBe(12);

    // While tuning, no test-file row was encoded or scored; only validation rows of the training file were scored.
    const tuneEncoded = seen.encodedPrompts.filter((e) => e.phase === 'tune').map((e) => e.prompt);
    const tuneScored = seen.scoredPrompts.filter((e) => e.phase === 'tune').map((e) => e.prompt);
    expect(tuneEncoded.length).toBeGreaterThan(0);
    expect(tuneEncoded.filter((p) => testPrompts.has(p))).toEqual([]);
    expect(tuneScored.length).toBeGreaterThan(0);
    expect(tuneScored.filter((p) => !trainPrompts.has(p))).toEqual([]);
    // …and the instrumentation does see the test file once the seed runs.
    expect(new Set(seen.scoredPrompts.filter((e) => e.phase === 'final').map((e) => e.prompt))).toEqual(testPrompts);

    // The tuning runs' manifests carry no test file; the seed run's does, with its metrics.
    const store = new RunsStore(home);
    const tuneRunIds = result.rows[0].tuning!.grid.flatMap((p) => p.runIds);
    expect(tuneRunIds).toHaveLength(2);
    for (const runId of tuneRunIds) {
      const manifest = store.read(runId);
      expect(manifest.runSpec?.data.evalPath).toBeUndefined();
      expect(manifest.dataset.evalData).toBeUndefined();
      expect(manifest.finalTest).toBeUndefined();
    }
    const [run] = result.runs;
    expect(run.finalTest?.evalExamples).toBe(8);
    expect(store.read(run.runId).dataset.evalData?.path).toBe(testFile);

    // The row and the table report the test file's accuracy.
    const [row] = result.rows;
    expect(row.testAccuracyMean).toBe(run.finalTest!.accuracy);
    expect(row.testAccuracyStd).toBe(0);
    expect(row.testEvalLoss).toBe(run.finalTest!.evalLoss);
    expect(formatCompareTable(result.rows).split('\n')[0]).toContain('test accuracy');
  }, 240_000);
});
