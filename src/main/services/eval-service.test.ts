// `prefixlab eval`: on a finished run's own eval split, with its adapter, it reproduces the run's `final` block
// (LoRA by run id and the run's frozen split, with generation; PT+ by registry adapter id and a split file);
// --out writes one JSON line per row; rows without labels are scored by generation; bad input is one line.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainResult } from '@shared/contract/training';
import { initBackend } from '../engine/backend';
import { fixturesDir } from '../engine/test-paths';
import { RunsStore } from '../registry/runs-store';
import { cli } from '../cli/cli-harness';
import { trainFromFlags } from '../cli/testing/requests-from-flags';
import { evaluateFile, type EvalResult, type EvalRow } from './eval-service';
import { unloadModels } from './model-service';

const llama = join(fixturesDir, 'llama-gqa');
let home: string;
let data: string;

/** Small, fast runs on the tiny fixture. */
const fast = { 'train.batchSize': '4', 'train.maxLength': '32', 'train.warmupSteps': '0', 'train.evalEvery': '0', 'train.evalBatchSize': '3' };

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-eval-'));
  data = join(home, 'weather.jsonl');
  const rows: string[] = [];
  const names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna', 'Max', 'Zoe'];
  for (const name of names) {
    rows.push(JSON.stringify({ text: `${name} saw the sun.`, label: 'happy' }));
    rows.push(JSON.stringify({ text: `${name} saw the rain.`, label: 'sad' }));
    rows.push(JSON.stringify({ text: `${name} saw a cloud.`, label: 'calm' }));
  }
  writeFileSync(data, rows.join('\n') + '\n');
});

afterAll(async () => {
  await unloadModels();
  rmSync(home, { recursive: true, force: true });
});

async function trainRun(method: 'lora' | 'ptplus', set: Record<string, string> = {}): Promise<TrainResult> {
  const result = await trainFromFlags({ home, model: llama, data, method, steps: 3, seed: 2, evalSplit: 9, set: { ...fast, ...set }, isolate: 'inline', lr: 0.05 });
  expect(result.status).toBe('finished');
  expect(result.final.accuracy).not.toBeNull();
  return result;
}

function expectFinal(got: EvalResult, run: TrainResult): void {
  const f = run.final;
  expect(got.rows).toBe(f.evalExamples);
  expect(got.accuracy).toBe(f.accuracy);
  expect(got.evalLoss).toBeCloseTo(f.evalLoss!, 6);
  expect(got.perplexity).toBeCloseTo(Math.exp(f.evalLoss!), 5);
  expect(got.perClassAccuracy).toEqual(f.perClassAccuracy);
  expect(got.labels).toEqual(f.labels);
  expect(got.confusion).toEqual(f.confusion);
  expect(got.exactMatch).toBe(f.exactMatch);
}

describe('prefixlab eval reproduces a run', () => {
  it('LoRA: --adapter RUN --split RUN gives the run’s final block, generation included, and --out one line per row', async () => {
    const run = await trainRun('lora', { 'train.evalGenerate': 'true' });
    expect(run.final.exactMatch).not.toBeNull();
    const out = join(home, 'predictions.jsonl');
    const r = await cli(['eval', '--model', llama, '--adapter', run.runId, '--data', data, '--split', run.runId, '--out', out, '--home', home, '--backend', 'cpu', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as EvalResult;
    expectFinal(got, run);
    expect(got.out).toBe(out);

    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as EvalRow);
    const evalIds = new RunsStore(home).read(run.runId).dataset.evalIds;
    expect(rows.map((row) => row.id)).toEqual(evalIds);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(expect.arrayContaining(['id', 'prompt', 'target', 'prediction', 'correct', 'scores']));
      expect(Object.keys(row.scores!)).toEqual(got.labels);
      expect(row.correct).toBe(row.prediction === row.label);
    }
    expect(rows.filter((row) => row.correct).length / rows.length).toBe(got.accuracy);
  });

  it('PT+: the registry adapter id and a split file with the run’s ids give its final block', async () => {
    const run = await trainRun('ptplus');
    expect(run.adapterId).toBeDefined();
    const { trainIds, evalIds } = new RunsStore(home).read(run.runId).dataset;
    const splitFile = join(home, 'split.json');
    writeFileSync(splitFile, JSON.stringify({ trainIds, evalIds }));
    const got = await evaluateFile({ home, model: llama, adapter: run.adapterId, data, split: splitFile });
    expectFinal(got, run);
    // The base model alone scores differently: the adapter was used.
    const base = await evaluateFile({ home, model: llama, data, split: splitFile });
    expect(base.evalLoss).not.toBeCloseTo(got.evalLoss!, 4);
  });
});

describe('prefixlab eval on other files', () => {
  it('rows without labels are scored by greedy generation (exact match), with perplexity = exp(evalLoss)', async () => {
    const file = join(home, 'qa.jsonl');
    writeFileSync(file, ['{"prompt":"one two","completion":" three"}', '{"prompt":"a b","completion":" c"}', '{"prompt":"x y","completion":" z"}'].join('\n') + '\n');
    const out = join(home, 'qa-predictions.jsonl');
    const got = await evaluateFile({ home, model: llama, data: file, out });
    expect(got.rows).toBe(3);
    expect(got.accuracy).toBeNull();
    expect(got.exactMatch).not.toBeNull();
    expect(got.perplexity).toBeCloseTo(Math.exp(got.evalLoss!), 6);
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as EvalRow);
    expect(rows.map((row) => row.id)).toEqual(['1', '2', '3']);
    for (const row of rows) {
      expect(typeof row.prediction).toBe('string');
      expect(typeof row.correct).toBe('boolean');
      expect(row.scores).toBeNull();
    }
    expect(rows.filter((row) => row.correct).length / 3).toBe(got.exactMatch);
  });

  it('--no-label-scores: labelled rows without label likelihood, scored by greedy generation, with the same eval loss', async () => {
    const withScores = await evaluateFile({ home, model: llama, data, limit: 6, generate: true });
    const without = await cli(['eval', '--model', llama, '--data', data, '--limit', '6', '--no-label-scores', '--home', home, '--json']);
    expect(without.code, without.stderr).toBe(0);
    const got = JSON.parse(without.stdout) as EvalResult;
    expect(withScores.accuracy).not.toBeNull();
    expect(got.accuracy).toBeNull();
    expect(got.perClassAccuracy).toBeNull();
    expect(got.exactMatch).toBe(withScores.exactMatch);
    expect(got.evalLoss).toBeCloseTo(withScores.evalLoss!, 6);
  });

  it('bad input is one line: a run split of another file, a missing output folder, an unknown task', async () => {
    const run = new RunsStore(home).list()[0];
    const other = join(home, 'other.jsonl');
    writeFileSync(other, readFileSync(data, 'utf8') + JSON.stringify({ text: 'Extra row.', label: 'calm' }) + '\n');
    const r = await cli(['eval', '--model', llama, '--data', other, '--split', run.runId, '--home', home, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`run ${run.runId} was split from ${data}, not from this file`);

    const missing = join(home, 'no-such-folder', 'p.jsonl');
    const m = await cli(['eval', '--model', llama, '--data', data, '--out', missing, '--home', home, '--backend', 'cpu']);
    expect(m.code).toBe(1);
    expect(m.stderr.trim().split('\n')).toHaveLength(1);
    expect(m.stderr).toContain(join(home, 'no-such-folder'));
    expect(existsSync(missing)).toBe(false);

    const t = await cli(['eval', '--model', llama, '--data', data, '--task', 'poetry', '--home', home, '--backend', 'cpu']);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('unknown task "poetry"');
  });
});
