// `prefixlab train` / `compare` argv → the training service's requests: --lr and --set lr=X, per-method rates,
// and the learning-rate tuning flags; the compare table shows the tuned rate and its grid. The service is
// replaced by a recorder, so nothing trains here.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CompareResult, CompareRow, TrainResult } from '@shared/contract/training';
import type { CompareRequest } from '../../services/training/compare';
import type { TrainRequest } from '../../services/training/train';
import { runCli } from '../run-cli';
import { splitPerMethod } from '../run-spec-flags';
import { formatCompareTable, parseLrGrid } from './train';
import { capture } from '../cli-harness';

const calls = vi.hoisted(() => ({ train: [] as unknown[], compare: [] as unknown[] }));

vi.mock('../../services/training/train', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../services/training/train')>();
  return {
    ...actual,
    train: async (req: TrainRequest) => {
      calls.train.push(req);
      return fakeRun(req.spec.method.name, req.spec.trainer.learningRate ?? 0.01);
    },
  };
});
vi.mock('../../services/training/compare', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../services/training/compare')>();
  return {
    ...actual,
    compare: async (req: CompareRequest) => {
      calls.compare.push(req);
      const rows: CompareRow[] = req.plan.methods.map((m) => ({ ...fakeRow(m.name), lr: m.learningRate ?? 0.01 }));
      return { rows, runs: [], seeds: req.plan.seeds, steps: 1, budgetTokens: null, evalExamples: 0 } satisfies CompareResult;
    },
  };
});

function fakeRun(method: string, learningRate: number): TrainResult {
  return {
    runId: 'run-1',
    runDir: '/tmp/run-1',
    status: 'finished',
    method,
    options: {},
    trainer: {},
    learningRate,
    seed: 0,
    backend: 'cpu',
    trainableParams: 10,
    steps: 1,
    totalSteps: 1,
    tokensSeen: 1,
    tokensPerSecond: 1,
    peakMemoryBytes: 1,
    peakRssBytes: 1,
    wallSeconds: 1,
    checkpoint: null,
    final: { trainLoss: 1, evalLoss: null, accuracy: null, perClassAccuracy: null, labels: null, confusion: null, exactMatch: null, evalExamples: 0 },
  };
}

function fakeRow(method: CompareRow['method']): CompareRow {
  return {
    method,
    trainableParams: 2560,
    accuracyMean: 0.75,
    accuracyStd: 0.05,
    evalLoss: 0.3,
    tokensPerSecond: 5000,
    peakMemoryBytes: 2 ** 20,
    wallSeconds: 1,
    lr: 0.01,
    failedRuns: 0,
  };
}

const home = mkdtempSync(join(tmpdir(), 'prefixlab-cli-lr-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function cli(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await runCli([...args, '--home', home, '--backend', 'cpu'], out.stream, err.stream);
  return { code, stdout: out.text(), stderr: err.text() };
}

const TRAIN = ['train', '--model', '/m', '--data', '/d.jsonl', '--method', 'ptplus', '--steps', '1', '--json'];
const COMPARE = ['compare', '--model', '/m', '--data', '/d.jsonl', '--methods', 'ptplus,lora', '--steps', '1', '--json'];

beforeEach(() => {
  calls.train.length = 0;
  calls.compare.length = 0;
});

describe('prefixlab train: learning rate', () => {
  it('--lr X and --set lr=X both set the peak learning rate (and lr never reaches the method options)', async () => {
    const viaFlag = await cli([...TRAIN, '--lr', '0.003']);
    expect(viaFlag.code).toBe(0);
    expect(JSON.parse(viaFlag.stdout).learningRate).toBe(0.003);
    const viaSet = await cli([...TRAIN, '--set', 'lr=4e-3', '--set', 'featureMap=gelu']);
    expect(viaSet.code).toBe(0);
    const [first, second] = calls.train as TrainRequest[];
    expect(first.spec.trainer.learningRate).toBe(0.003);
    expect(second.spec.trainer.learningRate).toBe(0.004);
    expect(second.spec.method.options).toMatchObject({ featureMap: 'gelu' });
    expect(second.spec.method.options).not.toHaveProperty('lr');
    const none = await cli(TRAIN);
    expect(none.code).toBe(0);
    expect((calls.train[2] as TrainRequest).spec.trainer.learningRate).toBeUndefined();
  });

  it('refuses a non-number, a non-positive rate, and --lr disagreeing with --set lr', async () => {
    expect((await cli([...TRAIN, '--lr', 'fast'])).stderr).toMatch(/--lr.*expected a number/);
    expect((await cli([...TRAIN, '--lr', '0'])).stderr).toMatch(/--lr.*positive/);
    expect((await cli([...TRAIN, '--lr', '0.01', '--set', 'lr=0.02'])).stderr).toMatch(/disagree/);
    expect((await cli([...TRAIN, '--lr', '0.01', '--set', 'lr=1e-2'])).code).toBe(0);
    expect(calls.train).toHaveLength(1);
  });
});

describe('prefixlab compare: rates and tuning flags', () => {
  it('passes --tune-lr with per-method and shared grids, tuning steps, validation split and seeds', async () => {
    const { code } = await cli([
      ...COMPARE,
      '--tune-lr',
      '--lr-grid',
      '1e-3,3e-3',
      '--lr-grid',
      'ptplus=3e-3,1e-2',
      '--tune-steps',
      '20',
      '--tune-val',
      '0.25',
      '--tune-seeds',
      '1,2',
      '--out',
      join(home, 'c.json'),
    ]);
    expect(code).toBe(0);
    const req = calls.compare[0] as CompareRequest;
    expect(req.plan.tuneLr).toEqual({ grid: { ptplus: [3e-3, 1e-2], lora: [1e-3, 3e-3] }, steps: 20, valSplit: 0.25, seeds: [1, 2] });
    expect(req.isolate).toBeUndefined();
    expect(JSON.parse(readFileSync(join(home, 'c.json'), 'utf8')).rows).toHaveLength(2);
    await cli([...COMPARE, '--tune-lr', '--in-process']);
    expect((calls.compare[1] as CompareRequest).plan.tuneLr).toEqual({ grid: undefined, steps: undefined, valSplit: undefined, seeds: undefined });
    expect((calls.compare[1] as CompareRequest).isolate).toBe('inline');
  });

  it('tuning flags need --tune-lr; grids must name listed methods and positive rates', async () => {
    expect((await cli([...COMPARE, '--lr-grid', '1e-3'])).stderr).toMatch(/--lr-grid needs --tune-lr/);
    expect((await cli([...COMPARE, '--tune-steps', '5'])).stderr).toMatch(/--tune-steps needs --tune-lr/);
    expect((await cli([...COMPARE, '--tune-lr', '--lr-grid', 'prompt=0.1'])).stderr).toMatch(/prompt is not among --methods/);
    expect((await cli([...COMPARE, '--tune-lr', '--lr-grid', '1e-3,-1'])).stderr).toMatch(/positive/);
    expect((await cli([...COMPARE, '--tune-lr', '--tune-val', '0'])).stderr).toMatch(/--tune-val/);
    expect(calls.compare).toHaveLength(0);
  });

  it("--set METHOD.lr=X and --lr-per-method fix a method's rate; --set lr=X fixes every method's", async () => {
    await cli([...COMPARE, '--set', 'lora.lr=2e-3', '--set', 'lora.rank=4', '--lr-per-method', 'ptplus=0.02']);
    const req = calls.compare[0] as CompareRequest;
    expect(Object.fromEntries(req.plan.methods.map((m) => [m.name, m.learningRate]))).toEqual({ lora: 0.002, ptplus: 0.02 });
    expect(req.plan.methods.map((m) => [m.name, m.options.rank])).toEqual([
      ['ptplus', undefined],
      ['lora', 4],
    ]);
    expect(splitPerMethod({ lr: '0.05', batchSize: '4' }, ['ptplus', 'lora'])).toEqual({ shared: { batchSize: '4' }, perMethod: {}, lrPerMethod: { ptplus: 0.05, lora: 0.05 } });
    expect(parseLrGrid(undefined, ['ptplus'])).toBeUndefined();
  });

  it('the table shows the chosen rate and the grid with validation accuracy, the chosen point bracketed', () => {
    const tuned: CompareRow = {
      ...fakeRow('ptplus'),
      options: { phiCenter: 'data-mean' },
      tuning: {
        chosenLr: 0.01,
        grid: [
          { lr: 0.003, valAccuracy: 0.5, valLoss: 0.7, failedRuns: 0, runIds: [] },
          { lr: 0.01, valAccuracy: 0.625, valLoss: 0.6, failedRuns: 0, runIds: [] },
          { lr: 0.03, valAccuracy: null, valLoss: null, failedRuns: 1, runIds: [] },
        ],
      },
    };
    const table = formatCompareTable([tuned, { ...fakeRow('lora'), lr: 0.002 }]);
    expect(table).toMatch(/lr \(tuned\)/);
    expect(table).toContain('ptplus (phiCenter=data-mean)');
    expect(table).toContain('0.003 50.0 · [0.01 62.5] · 0.03 failed');
    expect(table.split('\n').at(-1)).toMatch(/lora .* 0\.002 .*75\.0 ± 5\.0%.* fixed$/);
    expect(formatCompareTable([fakeRow('lora')])).not.toMatch(/tuned|grid/);
  });
});
