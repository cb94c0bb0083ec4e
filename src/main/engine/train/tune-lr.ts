// Per-method learning-rate tuning for fair comparisons: the default grids, the validation split carved out
// of the TRAINING pool (stratified, seeded, frozen: the test/eval split is never part of it), and the rule
// that picks a rate from the grid (best validation accuracy; ties → lower validation loss).
import { ApiError } from '@shared/errors';
import { deriveSeed, SEED_PURPOSES } from '../../platform/derive-seed';
import type { MethodName } from '../methods/method';
import { allMethods, getMethod } from '../methods/registry';
import { splitExamples } from '../../datasets/splits/make-split';

/**
 * The built-in methods' default grids, by name: each definition's learningRateGrid (half-decade steps spanning
 * ~1–1.5 decades around its default rate: PT+ 1e-2, LoRA 3e-3, Prefix-Tuning 1e-3, Prompt Tuning 1e-1, full 1e-4).
 */
export const DEFAULT_LR_GRIDS: Readonly<Record<MethodName, readonly number[]>> = Object.fromEntries(allMethods().map((m) => [m.name, m.learningRateGrid]));

/** The grid a method is tuned over: the given rates (sorted, de-duplicated) or its definition's default grid. */
export function resolveGrid(method: MethodName, given?: readonly number[]): number[] {
  const grid = given ?? getMethod(method).learningRateGrid;
  if (grid.length === 0) throw new ApiError('invalid_argument', `the learning-rate grid of ${method} is empty`, { field: 'tuneLr.grid' });
  const bad = grid.find((lr) => !Number.isFinite(lr) || lr <= 0 || lr > 10);
  if (bad !== undefined) throw new ApiError('invalid_argument', `learning rate ${bad} in the grid of ${method} is not in (0, 10]`, { field: 'tuneLr.grid' });
  return [...new Set(grid)].sort((a, b) => a - b);
}

/** The validation split's seed: derived from the split seed, so the same data and split seed give the same ids. */
export function validationSeed(splitSeed: number): number {
  return deriveSeed(splitSeed, SEED_PURPOSES.validationSplit);
}

/**
 * Carves a validation split out of `pool` (the training ids of the frozen train/test split): stratified by label
 * when every example has one, seeded with `valSeed`. `valSplit` is a share (< 1) or a count (≥ 1, spread
 * evenly over labels), like evalSplit. Ids come back in file order; the pool's other ids are the tuning
 * runs' training pool.
 */
export function carveValidationSplit(
  examples: readonly { id: string; label?: string }[],
  pool: readonly string[],
  opts: { valSplit: number; valSeed: number },
): { trainIds: string[]; valIds: string[] } {
  if (!(opts.valSplit > 0) || !Number.isFinite(opts.valSplit)) {
    throw new ApiError('invalid_argument', `the validation split must be a share in (0, 1) or a count ≥ 1, got ${opts.valSplit}`, { field: 'tuneLr.valSplit' });
  }
  const inPool = new Set(pool);
  const poolExamples = examples.filter((e) => inPool.has(e.id));
  const { trainIds, evalIds } = splitExamples(poolExamples, { splitSeed: opts.valSeed, evalSplit: opts.valSplit, kPerClass: null, seed: 0 });
  if (evalIds.length === 0) throw new ApiError('invalid_argument', `a validation split of ${opts.valSplit} leaves no validation examples`, { field: 'tuneLr.valSplit' });
  return { trainIds, valIds: evalIds };
}

/** Fails (before any run starts) when the tuning pool cannot give every label kPerClass examples. */
export function checkTuningPool(examples: readonly { id: string; label?: string }[], trainIds: readonly string[], kPerClass: number | undefined): void {
  if (kPerClass === undefined) return;
  const labelOf = new Map(examples.map((e) => [e.id, e.label]));
  const counts = new Map<string, number>();
  for (const id of trainIds) {
    const label = labelOf.get(id);
    if (label !== undefined) counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  for (const [label, count] of counts) {
    if (count < kPerClass) {
      throw new ApiError(
        'invalid_argument',
        `after carving the validation split, label "${label}" has ${count} training examples for tuning, fewer than kPerClass ${kPerClass}; use a smaller validation split`,
        { field: 'tuneLr.valSplit' },
      );
    }
  }
}

/** One learning rate of a grid: its validation metrics (means over the tuning seeds whose runs finished). */
export interface LrGridPoint {
  lr: number;
  valAccuracy: number | null;
  valLoss: number | null;
  /** Tuning runs at this rate that did not finish (NaN loss, …). */
  failedRuns: number;
  runIds: string[];
}

const TIE = 1e-9;

/**
 * The rate with the best validation accuracy; ties (and data without labels) go to the lower validation loss,
 * then to the lower rate. Points without metrics (every run failed) are never chosen; null when none has any.
 */
export function pickLearningRate(points: readonly LrGridPoint[]): number | null {
  let best: LrGridPoint | null = null;
  for (const point of [...points].sort((a, b) => a.lr - b.lr)) {
    if (point.valAccuracy === null && point.valLoss === null) continue;
    if (best === null || isBetter(point, best)) best = point;
  }
  return best?.lr ?? null;
}

/**
 * One grid point as the tuning log shows it: the metrics pickLearningRate compared (accuracy where the data has
 * labels, then loss), so a choice made on loss alone reads as such; "failed" where no run at that rate finished.
 */
export function describeGridPoint(point: LrGridPoint): string {
  const parts: string[] = [];
  if (point.valAccuracy !== null) parts.push(`${(point.valAccuracy * 100).toFixed(1)}%`);
  if (point.valLoss !== null) parts.push(`loss ${point.valLoss.toFixed(4)}`);
  return `${point.lr}: ${parts.length > 0 ? parts.join(' ') : 'failed'}`;
}

function isBetter(a: LrGridPoint, b: LrGridPoint): boolean {
  const accA = a.valAccuracy ?? -Infinity;
  const accB = b.valAccuracy ?? -Infinity;
  if (Math.abs(accA - accB) > TIE) return accA > accB;
  const lossA = a.valLoss ?? Infinity;
  const lossB = b.valLoss ?? Infinity;
  return lossA < lossB - TIE;
}
