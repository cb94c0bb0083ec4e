// Every split of examples into train and eval (and test), for its two uses:
// - a dataset's stored split (computeSplit: `prefixlab data split`, import): over content units, so identical
//   examples (same content key) always land on the same side and nothing leaks from train into eval; per class
//   when stratified; exactly k distinct examples per class for few-shot. Frozen: same file + seed → same ids.
// - a run's split (splitExamples, useGivenSplit: the trainer, learning-rate tuning): the eval side depends only
//   on the split seed (stratified by label when every example has one), so every training seed and method
//   shares it; k-shot training sets are then drawn per training seed from the rest.
// Each draw has its own stream of the one generator (platform/rng.ts), seeded by deriveSeed(seed, purpose), so
// a split seed equal to the training seed does not make the k-shot draw repeat the eval draw.
import type { Split, SplitMethod, SplitOptions } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { deriveSeed, SEED_PURPOSES } from '../../platform/derive-seed';
import { Rng } from '../../platform/rng';

// ---- a dataset's stored split ----

export interface SplitItem {
  id: string;
  label?: string;
  /** Content fingerprint (see contentKey). */
  key: number;
}

export const DEFAULT_EVAL_FRACTION = 0.1;

/** Throws ApiError('invalid_argument') when a class is too small for the method. */
export function computeSplit(items: SplitItem[], opts: SplitOptions, sourceSha256: string): Split {
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ApiError('invalid_argument', `the split seed must be an integer, got ${seed}`, { field: 'split.seed' });
  const hasLabels = items.length > 0 && items.every((i) => i.label !== undefined);
  const method: SplitMethod = opts.method ?? (hasLabels ? 'stratified' : 'random');
  if (method === 'file') throw new ApiError('invalid_argument', "method 'file' reads its ids from a file; use readSplitFile", { field: 'split.method' });
  const rng = Rng.fromSeed(deriveSeed(seed, SEED_PURPOSES.datasetSplit));
  const groups = method === 'random' ? new Map([['', items]]) : groupByLabel(items, method);
  const train: string[] = [];
  const evalIds: string[] = [];
  const test: string[] = [];
  const evalFraction = opts.evalFraction ?? DEFAULT_EVAL_FRACTION;
  const testFraction = opts.testFraction ?? 0;
  for (const [label, members] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // Members grouped by content key, in first-seen order (deterministic before shuffling).
    const units = rng.shuffle([...groupBy(members, (m) => m.key).values()]);
    if (method === 'kshot') {
      const k = opts.k ?? 0;
      if (k <= 0) throw new ApiError('invalid_argument', 'kshot needs k ≥ 1', { field: 'split.k' });
      if (units.length < k) {
        throw new ApiError('invalid_argument', `label ${JSON.stringify(label)} has ${units.length} distinct examples, fewer than k = ${k}`, { field: 'split.k' });
      }
      // One example of each of k distinct contents; their copies go nowhere, so eval never repeats them.
      units.slice(0, k).forEach((u) => train.push(u[0].id));
      units.slice(k).forEach((u) => u.forEach((m) => evalIds.push(m.id)));
      continue;
    }
    const nTest = Math.round(units.length * testFraction);
    let nEval = Math.round(units.length * evalFraction);
    // Every class with two or more distinct examples is seen in both train and eval.
    if (evalFraction > 0 && nEval === 0 && units.length - nTest >= 2) nEval = 1;
    if (nEval + nTest >= units.length && units.length > 0 && evalFraction + testFraction < 1) nEval = Math.max(0, units.length - nTest - 1);
    units.forEach((u, i) => {
      const side = i < nEval ? evalIds : i < nEval + nTest ? test : train;
      for (const m of u) side.push(m.id);
    });
  }
  const byNumber = (a: string, b: string): number => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
  const split: Split = { sourceSha256, seed, method, trainIds: train.sort(byNumber), evalIds: evalIds.sort(byNumber) };
  if (method !== 'kshot') split.evalFraction = evalFraction;
  if (method === 'kshot') split.k = opts.k;
  if (testFraction > 0) {
    split.testFraction = testFraction;
    split.testIds = test.sort(byNumber);
  }
  return deepFreeze(split);
}

function groupByLabel(items: SplitItem[], method: SplitMethod): Map<string, SplitItem[]> {
  if (items.some((item) => item.label === undefined)) {
    throw new ApiError('invalid_argument', `a ${method} split needs labels (a classification dataset)`, { field: 'split.method' });
  }
  return groupBy(items, (item) => item.label as string);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---- a run's split ----

export interface SplitRequest {
  splitSeed: number;
  /** Share (0 ≤ x < 1) or number (≥ 1) of examples held out for evaluation; per label when stratified. */
  evalSplit: number;
  /** k training examples per label, drawn with `seed`; null = the whole remaining pool. */
  kPerClass: number | null;
  seed: number;
}

export function splitExamples(examples: readonly { id: string; label?: string }[], req: SplitRequest): { trainIds: string[]; evalIds: string[] } {
  if (req.evalSplit < 0 || !Number.isFinite(req.evalSplit)) throw new ApiError('invalid_argument', `evalSplit must be ≥ 0, got ${req.evalSplit}`, { field: 'evalSplit' });
  const isLabelled = examples.length > 0 && examples.every((e) => e.label !== undefined);
  const groups = groupBy(examples, (e) => (isLabelled ? (e.label as string) : ''));
  const splitRng = Rng.fromSeed(deriveSeed(req.splitSeed, SEED_PURPOSES.evalSplit));
  const evalIds: string[] = [];
  const pools = new Map<string, string[]>();
  const groupCount = groups.size;
  for (const [key, members] of groups) {
    const shuffled = splitRng.shuffle(members.map((e) => e.id));
    const count = req.evalSplit < 1 ? Math.round(shuffled.length * req.evalSplit) : Math.min(shuffled.length - 1, Math.round(req.evalSplit / groupCount));
    evalIds.push(...shuffled.slice(0, Math.max(0, count)));
    pools.set(key, shuffled.slice(Math.max(0, count)));
  }
  const trainIds = req.kPerClass !== null ? drawKShot(examples, [...pools.values()].flat(), req.kPerClass, req.seed) : [...pools.values()].flat();
  if (trainIds.length === 0) throw new ApiError('invalid_argument', 'the split leaves no training examples', { field: 'evalSplit' });
  return { trainIds: inFileOrder(examples, trainIds), evalIds: inFileOrder(examples, evalIds) };
}

/**
 * A split given from outside (a stored split of the dataset service); with kPerClass, k training examples
 * per label are drawn from its train ids with `seed`. Fails naming an id the dataset lacks.
 */
export function useGivenSplit(
  examples: readonly { id: string; label?: string }[],
  given: { trainIds: readonly string[]; evalIds: readonly string[] },
  kPerClass: number | null,
  seed: number,
): { trainIds: string[]; evalIds: string[] } {
  const known = new Set(examples.map((e) => e.id));
  const missing = [...given.trainIds, ...given.evalIds].find((id) => !known.has(id));
  if (missing !== undefined) throw new ApiError('invalid_argument', `split id ${missing} is not in the dataset`, { field: 'split' });
  const trainIds = kPerClass !== null ? drawKShot(examples, given.trainIds, kPerClass, seed) : [...given.trainIds];
  if (trainIds.length === 0) throw new ApiError('invalid_argument', 'the split has no training examples', { field: 'split' });
  return { trainIds: inFileOrder(examples, trainIds), evalIds: inFileOrder(examples, [...given.evalIds]) };
}

/** k ids per label from `pool`, drawn with `seed` (labels in first-seen order). */
function drawKShot(examples: readonly { id: string; label?: string }[], pool: readonly string[], k: number, seed: number): string[] {
  const labelOf = new Map(examples.map((e) => [e.id, e.label]));
  if (pool.some((id) => labelOf.get(id) === undefined)) {
    throw new ApiError('invalid_argument', 'kPerClass needs a labelled dataset (every example with a label)', { field: 'kPerClass' });
  }
  const byLabel = groupBy(pool, (id) => labelOf.get(id) as string);
  const shotRng = Rng.fromSeed(deriveSeed(seed, SEED_PURPOSES.kShot));
  const out: string[] = [];
  for (const [label, ids] of byLabel) {
    if (ids.length < k) throw new ApiError('invalid_argument', `label "${label}" has ${ids.length} training examples, fewer than kPerClass ${k}`, { field: 'kPerClass' });
    out.push(...shotRng.shuffle([...ids]).slice(0, k));
  }
  return out;
}

function inFileOrder(examples: readonly { id: string }[], ids: string[]): string[] {
  const order = new Map(examples.map((e, i) => [e.id, i]));
  return ids.sort((a, b) => (order.get(a) as number) - (order.get(b) as number));
}

// ---- shared ----

/** Items grouped by `keyOf`, groups and members in first-seen order. */
function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
