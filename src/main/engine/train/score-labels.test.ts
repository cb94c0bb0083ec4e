// trainer.scoreLabels = false: evaluation scores only each example's own target (no per-label sequences), so a
// task with many labels (GoEmotions' 27) evaluates in one sequence per example. Same run, same eval loss; no
// label-likelihood accuracy; exact match (evalGenerate) still reported.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../backend';
import { fixturesDir } from '../test-paths';
import { runTrainJobFromFlags as runTrainJob, type JobFlags } from '../../cli/testing/requests-from-flags';
import { MemoryRecorder } from './test-fixtures';
import { cli } from '../../cli/cli-harness';

// How many sequences each evaluation scored.
const scored = vi.hoisted(() => ({ counts: [] as number[] }));
vi.mock('../eval/score', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../eval/score')>();
  return {
    ...actual,
    scoreSequences: (...args: Parameters<typeof actual.scoreSequences>) => {
      scored.counts.push(args[1].length);
      return actual.scoreSequences(...args);
    },
  };
});

const dataDir = resolve(fixturesDir, '../eval-data');
let home: string;
let recorder: MemoryRecorder;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-score-labels-'));
  recorder = new MemoryRecorder(join(home, 'runs'));
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

const flags = (scoreLabels: boolean): JobFlags => ({
  home,
  model: join(fixturesDir, 'llama-gqa'),
  data: join(dataDir, 'sst2-train.tsv'),
  evalData: join(dataDir, 'sst2-test.tsv'),
  method: 'lora',
  steps: 2,
  seed: 1,
  lr: 0.01,
  set: {
    'train.batchSize': '4',
    'train.maxLength': '48',
    'train.evalEvery': '0',
    'train.checkpointEvery': '0',
    'train.evalGenerate': 'true',
    'train.scoreLabels': String(scoreLabels),
  },
});

describe('trainer.scoreLabels', () => {
  it('off: the same eval loss from one sequence per example, no label-likelihood accuracy, exact match kept', async () => {
    scored.counts.length = 0;
    const on = await runTrainJob(flags(true), { recorder });
    const onCounts = [...scored.counts];
    scored.counts.length = 0;
    const off = await runTrainJob(flags(false), { recorder });
    // 8 test examples: with labels, own targets plus the other label's sequence each (2 labels) → 16; without, 8.
    expect(Math.max(...onCounts)).toBe(16);
    expect(Math.max(...scored.counts)).toBe(8);
    expect(on.finalTest!.accuracy).not.toBeNull();
    expect(off.finalTest!.accuracy).toBeNull();
    expect(off.finalTest!.evalLoss).toBeCloseTo(on.finalTest!.evalLoss!, 5);
    expect(off.finalTest!.exactMatch).toBe(on.finalTest!.exactMatch);
    expect(typeof off.finalTest!.exactMatch).toBe('number');
  });

  it("`eval --adapter RUN` on the run's own test file reproduces it without label scores too", async () => {
    const cliHome = join(home, 'cli');
    const common = ['--home', cliHome, '--backend', 'cpu', '--json'];
    const train = await cli([
      'train',
      ...['--model', join(fixturesDir, 'llama-gqa'), '--data', join(dataDir, 'sst2-train.tsv'), '--eval-data', join(dataDir, 'sst2-test.tsv')],
      ...['--method', 'lora', '--steps', '2', '--lr', '0.01', '--set', 'batchSize=4', '--set', 'maxLength=48', '--set', 'evalGenerate=true', '--set', 'scoreLabels=false'],
      ...common,
    ]);
    expect(train.code, train.stderr).toBe(0);
    const run = JSON.parse(train.stdout);
    expect(run.finalTest.accuracy).toBeNull();
    const evaluated = await cli(['eval', '--model', join(fixturesDir, 'llama-gqa'), '--adapter', run.runId, '--data', join(dataDir, 'sst2-test.tsv'), ...common]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const result = JSON.parse(evaluated.stdout);
    expect(result.accuracy).toBeNull();
    expect(result.exactMatch).toBe(run.finalTest.exactMatch);
    expect(result.evalLoss).toBeCloseTo(run.finalTest.evalLoss, 5);
  });
});
