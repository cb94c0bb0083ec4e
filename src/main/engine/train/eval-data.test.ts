// `--eval-data FILE` (RunSpec data.evalPath) in a training job, on the llama-gqa fixture model and 16 + 8 SST-2
// rows (tests/fixtures/eval-data): the test file is read like the training file, scored at evalEvery and at the
// end (`finalTest`; `final` too when nothing of the training file is held out), recorded in the manifest, and
// never trained on — every sequence the trainer was handed is recorded and compared with the test file's
// encodings. A bad test file fails naming that file and line.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatApiError, type ApiError } from '@shared/errors';
import { FinalMetricsSchema } from '@shared/contract/training';
import { initBackend } from '../backend';
import { loadModel } from '../io/load-model';
import { fixturesDir } from '../test-paths';
import { runTrainJobFromFlags as runTrainJob, type JobFlags } from '../../cli/testing/requests-from-flags';
import { encodeExample } from './encode';
import { readEvalExamples, readExamples, sha256File } from './sources';
import { MemoryRecorder } from './test-fixtures';

// Every example list a Trainer is built with (the only examples a run trains on), as token-id strings.
const trained = vi.hoisted(() => ({ runs: [] as string[][] }));
vi.mock('./trainer', async (importOriginal) => {
  const actual = await importOriginal<typeof import('./trainer')>();
  class RecordingTrainer extends actual.Trainer {
    constructor(init: ConstructorParameters<typeof actual.Trainer>[0]) {
      trained.runs.push(init.examples.map((e) => e.ids.join(',')));
      super(init);
    }
  }
  return { ...actual, Trainer: RecordingTrainer };
});

const model = join(fixturesDir, 'llama-gqa');
const dataDir = resolve(fixturesDir, '../eval-data');
const trainFile = join(dataDir, 'sst2-train.tsv');
const testFile = join(dataDir, 'sst2-test.tsv');
let home: string;
let recorder: MemoryRecorder;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-eval-data-'));
  recorder = new MemoryRecorder(join(home, 'runs'));
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

const MAX_LENGTH = 48;
const flags = (extra: Partial<JobFlags> = {}): JobFlags => ({
  home,
  model,
  data: trainFile,
  method: 'lora',
  steps: 4,
  seed: 1,
  lr: 0.01,
  set: { 'train.batchSize': '4', 'train.maxLength': String(MAX_LENGTH), 'train.warmupSteps': '0', 'train.evalEvery': '2', 'train.checkpointEvery': '0' },
  ...extra,
});

describe("--eval-data: the user's own test file in a training job", () => {
  it("is read with the training file's mapping and template", async () => {
    const train = await readExamples(trainFile);
    const test = await readEvalExamples(testFile, trainFile);
    expect(test).toHaveLength(8);
    // Same template: the training prompts and targets have the test prompts' shape, labels alike.
    const shape = (e: { prompt: string; target: string }) => [e.prompt.replace(/^.*?(\n|$)/, ''), e.target];
    expect(new Set(test.map((e) => shape(e)[0]))).toEqual(new Set(train.map((e) => shape(e)[0])));
    expect(new Set(test.map((e) => e.label))).toEqual(new Set(train.map((e) => e.label)));
    expect(new Set(test.map((e) => e.target))).toEqual(new Set(train.map((e) => e.target)));
  });

  it("takes the training file's label names: numeric labels named by a classes.txt beside the training file only", async () => {
    const shifted = (text: string) => text.replace(/\t([01])$/gm, (_, l: string) => `\t${Number(l) + 1}`);
    mkdirSync(join(home, 'train'), { recursive: true });
    mkdirSync(join(home, 'test'), { recursive: true });
    const train = join(home, 'train', 'train.tsv');
    const test = join(home, 'test', 'test.tsv');
    writeFileSync(train, shifted(readFileSync(trainFile, 'utf8')));
    writeFileSync(join(home, 'train', 'classes.txt'), 'negative\npositive\n');
    writeFileSync(test, shifted(readFileSync(testFile, 'utf8')));
    const examples = await readEvalExamples(test, train);
    expect(examples.map((e) => e.label)).toEqual(['positive', 'negative', 'positive', 'negative', 'positive', 'negative', 'positive', 'negative']);
    expect(examples[0].target).toBe(' positive');
    // Read on its own, the test file would keep its raw labels.
    expect((await readExamples(test))[0].label).toBe('2');
  });

  it('scores the file at evalEvery and at the end, records it in the manifest, and never trains on it', async () => {
    trained.runs.length = 0;
    const points: { step: number; evalLoss?: number; testLoss?: number; testAccuracy?: number }[] = [];
    const result = await runTrainJob(flags({ evalData: testFile }), { recorder, onProgress: (p) => void points.push(p) });
    expect(result.status).toBe('finished');

    // The file's block: 8 examples, both labels, a loss and an accuracy.
    const finalTest = FinalMetricsSchema.parse(result.finalTest);
    expect(finalTest.evalExamples).toBe(8);
    expect(finalTest.evalLoss).toBeGreaterThan(0);
    expect(finalTest.accuracy).toBeGreaterThanOrEqual(0);
    expect(Object.keys(finalTest.perClassAccuracy ?? {}).sort()).toEqual(['0', '1']);
    expect(finalTest.confusion!.flat().reduce((a, b) => a + b, 0)).toBe(8);
    // Nothing of the training file held out (no --eval-split): `final` is the file's too.
    expect(result.final).toEqual(finalTest);
    // evalEvery 2: steps 2 and 4 scored the file (the curve's eval points are the file's as well).
    expect(points.filter((p) => p.testLoss !== undefined).map((p) => p.step)).toEqual([2, 4]);
    expect(points[3].testLoss).toBeCloseTo(finalTest.evalLoss!, 6);
    expect(points[3].evalLoss).toBe(points[3].testLoss);
    expect(points[3].testAccuracy).toBe(finalTest.accuracy);

    // The manifest carries it: the run spec and a readable block, plus the metrics.
    const manifest = recorder.read(result.runId);
    expect(manifest.runSpec?.data.evalPath).toBe(testFile);
    expect(manifest.runSpec?.data.split.evalSplit).toBe(0);
    expect(manifest.dataset.evalData).toEqual({ path: testFile, sha256: await sha256File(testFile), examples: 8 });
    expect(manifest.dataset.trainIds).toHaveLength(16);
    expect(manifest.dataset.evalIds).toEqual([]);
    expect(manifest.finalTest).toEqual(finalTest);

    // Never trained on: the trainer was handed exactly the 16 training rows' encodings, none of the file's.
    const loaded = await loadModel(model);
    try {
      const tokenizer = loaded.tokenizer!;
      const encode = (examples: { prompt: string; target: string }[]) =>
        examples.map((e, i) => encodeExample(tokenizer, e, i, { maxLength: MAX_LENGTH, addEos: manifest.trainer.addEos as boolean }).ids.join(','));
      const trainSeqs = encode(await readExamples(trainFile));
      const testSeqs = new Set(encode(await readEvalExamples(testFile, trainFile)));
      expect(trained.runs).toHaveLength(1);
      expect([...trained.runs[0]].sort()).toEqual([...trainSeqs].sort());
      expect(trained.runs[0].filter((s) => testSeqs.has(s))).toEqual([]);
    } finally {
      loaded.dispose();
    }
  }, 120_000);

  it('with --eval-split too, reports the held-out rows in `final` and the file in `finalTest`', async () => {
    const result = await runTrainJob(flags({ evalData: testFile, evalSplit: 4 }), { recorder });
    expect(result.final.evalExamples).toBe(4);
    expect(result.finalTest?.evalExamples).toBe(8);
    expect(result.final.evalLoss).not.toBe(result.finalTest?.evalLoss);
    const manifest = recorder.read(result.runId);
    expect(manifest.dataset.trainIds).toHaveLength(12);
    expect(manifest.dataset.evalData?.examples).toBe(8);
  }, 120_000);

  it('without it, a run has no test block (as before)', async () => {
    const result = await runTrainJob(flags({ evalSplit: 4, steps: 1 }), { recorder });
    expect(result.finalTest).toBeUndefined();
    expect(recorder.read(result.runId).dataset.evalData).toBeUndefined();
  }, 120_000);

  it('a bad row of the test file fails before training, naming that file and line', async () => {
    const bad = join(dataDir, 'sst2-test-bad-label.tsv');
    const err = (await runTrainJob(flags({ evalData: bad }), { recorder }).catch((e: unknown) => e)) as ApiError;
    expect(err).toMatchObject({ file: bad, line: 3 });
    expect(formatApiError(err)).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: label: `));
    expect(formatApiError(err)).not.toContain('\n');
  });

  it('a missing test file is one line naming it', async () => {
    const missing = join(home, 'no-such-test.tsv');
    const err = (await runTrainJob(flags({ evalData: missing }), { recorder }).catch((e: unknown) => e)) as ApiError;
    expect(formatApiError(err)).toBe(`${missing}: eval data file does not exist`);
  });
});
