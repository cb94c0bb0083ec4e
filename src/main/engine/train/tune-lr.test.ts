// Learning-rate tuning rules: default grids, the choice (accuracy, then loss), and the validation split carved
// from the training pool (stratified, frozen, disjoint from the test split).
import { describe, expect, it } from 'vitest';
import { TuneLrRequestSchema } from '@shared/contract/training';
import { splitExamples } from '../../datasets/splits/make-split';
import { carveValidationSplit, checkTuningPool, DEFAULT_LR_GRIDS, describeGridPoint, pickLearningRate, resolveGrid, validationSeed, type LrGridPoint } from './tune-lr';

const point = (lr: number, valAccuracy: number | null, valLoss: number | null): LrGridPoint => ({ lr, valAccuracy, valLoss, failedRuns: 0, runIds: [] });

/** 3 labels: 20 × a, 12 × b, 8 × c. */
const examples = Array.from({ length: 40 }, (_, i) => ({ id: `e${i}`, label: i % 5 < 2 ? 'a' : i % 5 < 4 ? (i < 30 ? 'b' : 'a') : 'c' }));

describe('learning-rate grids', () => {
  it('default grids span 1–1.5 decades around each default rate, in half-decade steps', () => {
    expect(DEFAULT_LR_GRIDS.ptplus).toEqual([3e-3, 1e-2, 3e-2]);
    expect(DEFAULT_LR_GRIDS.lora).toEqual([1e-3, 3e-3, 1e-2]);
    expect(DEFAULT_LR_GRIDS.prefix).toEqual([1e-4, 3e-4, 1e-3, 3e-3]);
    expect(DEFAULT_LR_GRIDS.prompt).toEqual([3e-2, 1e-1, 3e-1]);
    for (const grid of Object.values(DEFAULT_LR_GRIDS)) {
      const decades = Math.log10(grid.at(-1)! / grid[0]);
      expect(decades).toBeGreaterThanOrEqual(0.95);
      expect(decades).toBeLessThanOrEqual(1.5);
    }
  });

  it('a given grid is sorted and de-duplicated; empty or non-positive grids fail', () => {
    expect(resolveGrid('lora', [1e-2, 1e-3, 1e-2])).toEqual([1e-3, 1e-2]);
    expect(resolveGrid('prompt')).toEqual([3e-2, 1e-1, 3e-1]);
    expect(() => resolveGrid('lora', [])).toThrow(/empty/);
    expect(() => resolveGrid('lora', [1e-3, -1])).toThrow(/-1/);
    expect(() => resolveGrid('lora', [NaN])).toThrow(/NaN/);
  });
});

describe('TuneLrRequestSchema (the contract shape of compare tuneLr)', () => {
  it('accepts per-method grids and options, and rejects unknown methods, fields and bad rates', () => {
    const request = { grid: { ptplus: [3e-3, 1e-2], lora: [1e-3] }, steps: 40, valSplit: 64, seeds: [1, 2] };
    expect(TuneLrRequestSchema.parse(request)).toEqual(request);
    expect(TuneLrRequestSchema.parse({})).toEqual({});
    expect(TuneLrRequestSchema.safeParse({ grid: { adapter: [1e-3] } }).success).toBe(false);
    expect(TuneLrRequestSchema.safeParse({ grid: { lora: [] } }).success).toBe(false);
    expect(TuneLrRequestSchema.safeParse({ grid: { lora: [-1e-3] } }).success).toBe(false);
    expect(TuneLrRequestSchema.safeParse({ valSplit: 0 }).success).toBe(false);
    expect(TuneLrRequestSchema.safeParse({ lr: 1 }).success).toBe(false);
  });
});

describe('pickLearningRate', () => {
  it('picks the best validation accuracy', () => {
    expect(pickLearningRate([point(1e-3, 0.5, 0.4), point(3e-3, 0.75, 0.6), point(1e-2, 0.6, 0.2)])).toBe(3e-3);
  });

  it('breaks accuracy ties by the lower validation loss, then by the lower rate', () => {
    expect(pickLearningRate([point(1e-3, 0.75, 0.5), point(3e-3, 0.75, 0.3), point(1e-2, 0.5, 0.1)])).toBe(3e-3);
    expect(pickLearningRate([point(1e-2, 0.75, 0.3), point(1e-3, 0.75, 0.3)])).toBe(1e-3);
  });

  it('uses the loss alone without labels, skips failed points, and gives null when all failed', () => {
    expect(pickLearningRate([point(1e-3, null, 0.9), point(3e-3, null, 0.7)])).toBe(3e-3);
    expect(pickLearningRate([point(1e-3, 0.5, 0.9), point(3e-3, null, null)])).toBe(1e-3);
    expect(pickLearningRate([point(1e-3, null, null)])).toBeNull();
  });

  it('the log names the metrics it compared: accuracy and loss, loss alone without labels, failed without either', () => {
    expect(describeGridPoint(point(3e-4, 0.75, 0.21234))).toBe('0.0003: 75.0% loss 0.2123');
    expect(describeGridPoint(point(0.01, null, 0.0676))).toBe('0.01: loss 0.0676');
    expect(describeGridPoint(point(0.03, null, null))).toBe('0.03: failed');
  });
});

describe('carveValidationSplit', () => {
  const test = splitExamples(examples, { splitSeed: 0, evalSplit: 0.25, kPerClass: null, seed: 0 });

  it('carves a stratified validation split from the training pool only, disjoint from the test split', () => {
    const { trainIds, valIds } = carveValidationSplit(examples, test.trainIds, { valSplit: 0.25, valSeed: validationSeed(0) });
    const testIds = new Set(test.evalIds);
    expect(valIds.some((id) => testIds.has(id))).toBe(false);
    expect(trainIds.some((id) => testIds.has(id))).toBe(false);
    expect([...trainIds, ...valIds].sort()).toEqual([...test.trainIds].sort());
    const labelOf = new Map(examples.map((e) => [e.id, e.label]));
    const count = (ids: string[], label: string) => ids.filter((id) => labelOf.get(id) === label).length;
    for (const label of ['a', 'b', 'c']) {
      expect(count(valIds, label)).toBe(Math.round(count(test.trainIds, label) * 0.25));
    }
  });

  it('is frozen: the same pool and seed give the same ids (in file order); another seed gives others', () => {
    const first = carveValidationSplit(examples, test.trainIds, { valSplit: 6, valSeed: 11 });
    const again = carveValidationSplit(examples, [...test.trainIds].reverse(), { valSplit: 6, valSeed: 11 });
    expect(again).toEqual(first);
    expect(first.valIds).toHaveLength(6);
    const order = new Map(examples.map((e, i) => [e.id, i]));
    expect(first.valIds.map((id) => order.get(id))).toEqual([...first.valIds.map((id) => order.get(id)!)].sort((x, y) => x - y));
    expect(carveValidationSplit(examples, test.trainIds, { valSplit: 6, valSeed: 12 }).valIds).not.toEqual(first.valIds);
  });

  it('refuses an empty validation split and a pool too small for kPerClass', () => {
    expect(() => carveValidationSplit(examples, test.trainIds, { valSplit: 0, valSeed: 1 })).toThrow(/validation split/);
    const { trainIds } = carveValidationSplit(examples, test.trainIds, { valSplit: 0.5, valSeed: 1 });
    expect(() => checkTuningPool(examples, trainIds, 2)).not.toThrow();
    expect(() => checkTuningPool(examples, trainIds, 8)).toThrow(/label "\w" has \d+ training examples for tuning, fewer than kPerClass 8/);
  });
});
