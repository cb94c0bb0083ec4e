// compare with per-method learning-rate tuning, end to end on stories260K (in this process): the rates are
// chosen on a validation split carved from the training pool, the seeds then run at the chosen rate, and the
// test (eval) split is never encoded or scored while tuning — every encoded prompt and every scored example
// is recorded and tagged with the phase of the run it belongs to.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CompareResultSchema } from '@shared/contract/training';
import { initBackend } from '../engine/backend';
import { readExamples } from '../engine/train/sources';
import { hasStoriesHf, storiesHf } from '../engine/train/test-fixtures';
import { pickLearningRate } from '../engine/train/tune-lr';
import { RunsStore } from '../registry/runs-store';
import { compareFromFlags as compare } from '../cli/testing/requests-from-flags';
import type { RunTag } from './training/compare';

const seen = vi.hoisted(() => ({ phase: 'none' as string, encodedPrompts: [] as { phase: string; prompt: string }[], scoredIds: [] as { phase: string; id: string }[] }));

vi.mock('../engine/train/encode', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../engine/train/encode')>();
  return {
    ...actual,
    encodeExample: (...args: Parameters<typeof actual.encodeExample>) => {
      seen.encodedPrompts.push({ phase: seen.phase, prompt: args[1].prompt });
      return actual.encodeExample(...args);
    },
  };
});

vi.mock('../engine/eval/classify', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../engine/eval/classify')>();
  return {
    ...actual,
    evaluateExamples: (...args: Parameters<typeof actual.evaluateExamples>) => {
      for (const e of args[2]) seen.scoredIds.push({ phase: seen.phase, id: e.id });
      return actual.evaluateExamples(...args);
    },
  };
});

const isAvailable = hasStoriesHf();
let home: string;
let data: string;
/** Example id → the prompt the dataset service renders for it. */
let promptOf: Map<string, string>;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-tune-'));
  data = join(home, 'weather.jsonl');
  const rows: string[] = [];
  const names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna', 'Tim', 'Sue', 'Max', 'Amy', 'Bob', 'Kim'];
  for (const [i, name] of names.entries()) {
    for (const [word, label] of [
      ['sun', 'happy'],
      ['rain', 'sad'],
    ]) {
      rows.push(JSON.stringify({ text: `${name} saw the ${word} ${i}.`, label }));
    }
  }
  writeFileSync(data, rows.join('\n') + '\n');
  promptOf = new Map((await readExamples(data)).map((e) => [e.id, e.prompt]));
  expect(new Set(promptOf.values()).size).toBe(rows.length); // prompts identify examples
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!isAvailable)('compare with learning-rate tuning (stories260K)', () => {
  it('tunes each method on a validation split from the training pool, never touching the test split, then runs the seeds at the chosen rate', async () => {
    const starts: (RunTag & { lr: number })[] = [];
    const logs: string[] = [];
    const result = await compare({
      home,
      model: storiesHf,
      data,
      methods: ['ptplus', 'lora'],
      seeds: [0, 1],
      kPerClass: 2,
      steps: 2,
      evalSplit: 4,
      set: { batchSize: '4', maxLength: '32', warmupSteps: '0', evalEvery: '1' },
      setPerMethod: { lora: { dropout: '0' } },
      tuneLr: { grid: { ptplus: [3e-2, 1e-2], lora: [3e-3] }, steps: 1, valSplit: 0.25 },
      isolate: 'inline',
      onRunStart: (info) => {
        seen.phase = info.phase;
        starts.push(info);
      },
      onLog: (message) => void logs.push(message),
    });
    seen.phase = 'none';
    expect(CompareResultSchema.parse(result)).toEqual(result);

    // Every tuning run comes before the first seed's run, once per grid point (one tuning seed: the first).
    expect(starts.map((s) => `${s.phase} ${s.method} ${s.lr} ${s.seed}`)).toEqual([
      'tune ptplus 0.01 0',
      'tune ptplus 0.03 0',
      'tune lora 0.003 0',
      ...[0, 1].flatMap((seed) => [`final ptplus ${result.rows[0].lr} ${seed}`, `final lora 0.003 ${seed}`]),
    ]);

    // The split: test ids from the seeds' runs; validation ids carved from the rest.
    const store = new RunsStore(home);
    const testIds = store.read(result.runs[0].runId).dataset.evalIds;
    expect(testIds).toHaveLength(4);
    const tuning = result.tuning!;
    expect(tuning).toMatchObject({ trainPoolSize: 14, steps: 1, seeds: [0], splitSeed: 0 });
    expect(tuning.valIds).toHaveLength(6);
    expect(tuning.valIds.filter((id) => testIds.includes(id))).toEqual([]);

    // Instrumented: while tuning, no test example was encoded or scored; validation examples were scored.
    const testPrompts = new Set(testIds.map((id) => promptOf.get(id)));
    const tunePrompts = seen.encodedPrompts.filter((e) => e.phase === 'tune').map((e) => e.prompt);
    const tuneScored = seen.scoredIds.filter((e) => e.phase === 'tune').map((e) => e.id);
    expect(tunePrompts.length).toBeGreaterThan(0);
    expect(tunePrompts.filter((p) => testPrompts.has(p))).toEqual([]);
    expect(new Set(tuneScored)).toEqual(new Set(tuning.valIds));
    // …and the instrumentation does see the test split once the seeds run.
    expect(new Set(seen.scoredIds.filter((e) => e.phase === 'final').map((e) => e.id))).toEqual(new Set(testIds));
    expect(seen.encodedPrompts.filter((e) => e.phase === 'final').some((e) => testPrompts.has(e.prompt))).toBe(true);

    // Tuning runs trained on the tuning pool and were scored on the validation split.
    const tuneRunIds = result.rows.flatMap((r) => r.tuning!.grid.flatMap((p) => p.runIds));
    expect(tuneRunIds).toHaveLength(3);
    for (const runId of tuneRunIds) {
      const manifest = store.read(runId);
      expect(manifest.dataset.evalIds).toEqual(tuning.valIds);
      expect(manifest.dataset.trainIds.filter((id) => testIds.includes(id) || tuning.valIds.includes(id))).toEqual([]);
      expect(manifest.totalSteps).toBe(1);
      expect(manifest.trainer).toMatchObject({ evalEvery: 0, checkpointEvery: 0 });
    }

    // Rows report the grid and the chosen rate, and the seeds ran at it.
    const [ptplus, lora] = result.rows;
    expect(ptplus.tuning!.grid.map((p) => p.lr)).toEqual([0.01, 0.03]);
    for (const p of [...ptplus.tuning!.grid, ...lora.tuning!.grid]) {
      expect(p.valAccuracy).toBeGreaterThanOrEqual(0);
      expect(p.valLoss).toBeGreaterThan(0);
      expect(p.failedRuns).toBe(0);
    }
    expect(ptplus.tuning!.chosenLr).toBe(pickLearningRate(ptplus.tuning!.grid));
    expect(ptplus.lr).toBe(ptplus.tuning!.chosenLr);
    expect(lora.tuning!.chosenLr).toBe(0.003);
    for (const run of result.runs) expect(run.learningRate).toBe(run.method === 'ptplus' ? ptplus.lr : 0.003);
    expect(result.runs.every((r) => r.totalSteps === 2)).toBe(true);
    expect(logs.some((m) => /tuning learning rates on 6 validation examples/.test(m))).toBe(true);

    // Only the seeds' runs became registry adapters.
    const adaptersDir = join(home, 'adapters');
    expect(existsSync(adaptersDir) ? readdirSync(adaptersDir).filter((n) => !n.startsWith('.')).length : 0).toBe(4);
  });

  it('a method given a fixed rate is not tuned, and a validation split that starves kPerClass fails before any run', async () => {
    const base = { home, model: storiesHf, data, seeds: [0], steps: 1, evalSplit: 4, isolate: 'inline' as const, set: { batchSize: '4', maxLength: '32' } };
    const result = await compare({ ...base, methods: ['ptplus'], kPerClass: 2, lrPerMethod: { ptplus: 0.02 }, tuneLr: { steps: 1 } });
    expect(result.rows[0].tuning).toBeUndefined();
    expect(result.rows[0].lr).toBe(0.02);
    expect(result.tuning!.valIds.length).toBeGreaterThan(0);
    await expect(compare({ ...base, methods: ['ptplus'], kPerClass: 6, tuneLr: { valSplit: 0.5 } })).rejects.toThrow(/fewer than kPerClass 6/);
  });

  it('tuning only runs no seed, and a rate probed on its own scores what it scores inside a wider grid', async () => {
    const adapters = (): number => (existsSync(join(home, 'adapters')) ? readdirSync(join(home, 'adapters')).filter((n) => !n.startsWith('.')).length : 0);
    const before = adapters();
    const base = { home, model: storiesHf, data, methods: ['ptplus'] as const, seeds: [0, 1], kPerClass: 2, steps: 2, evalSplit: 4, isolate: 'inline' as const };
    const set = { batchSize: '4', maxLength: '32', warmupSteps: '0' };
    const phases: string[] = [];
    const wide = await compare({ ...base, methods: [...base.methods], set, tuneLr: { grid: { ptplus: [1e-2, 3e-2] }, only: true }, onRunStart: (s) => void phases.push(s.phase) });
    const probe = await compare({ ...base, methods: [...base.methods], set, tuneLr: { grid: { ptplus: [3e-2] }, only: true }, onRunStart: (s) => void phases.push(s.phase) });
    expect(phases).toEqual(['tune', 'tune', 'tune']);
    expect(adapters()).toBe(before);
    // The probe's point is the wide grid's point: same validation split, same seed, same steps.
    expect(probe.tuning).toEqual(wide.tuning);
    const [widePoint] = wide.rows[0].tuning!.grid.filter((p) => p.lr === 3e-2);
    expect(probe.rows[0].tuning!.grid).toHaveLength(1);
    expect(probe.rows[0].tuning!.grid[0]).toMatchObject({ valLoss: widePoint!.valLoss, valAccuracy: widePoint!.valAccuracy });
    // Rows describe the chosen rate's tuning runs (scored on the validation split).
    expect(probe.runs.map((r) => r.runId)).toEqual(probe.rows[0].tuning!.grid[0]!.runIds);
    expect(probe.rows[0].evalLoss).toBeCloseTo(widePoint!.valLoss!, 12);
    await expect(compare({ ...base, methods: ['ptplus', 'lora'], set, lrPerMethod: { lora: 1e-3 }, tuneLr: { only: true } })).rejects.toThrow(/every method must be tuned/);
  });
});
