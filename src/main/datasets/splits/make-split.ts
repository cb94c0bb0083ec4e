// Train/eval(/test) splits over row ids. Identical examples (same content key) always land on the same
// side, so a split never leaks an example from train into eval. Per-class when stratified; exactly k per
// class for few-shot. The result is frozen: same file + seed → same ids.
import type { Split, SplitMethod, SplitOptions } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { seededRandom, shuffle } from './seeded-random';

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
  const hasLabels = items.length > 0 && items.every((i) => i.label !== undefined);
  const method: SplitMethod = opts.method ?? (hasLabels ? 'stratified' : 'random');
  if (method === 'file') throw new ApiError('invalid_argument', "method 'file' reads its ids from a file; use readSplitFile", { field: 'split.method' });
  const rng = seededRandom(seed);
  const groups = method === 'random' ? new Map([['', items]]) : groupByLabel(items, method);
  const train: string[] = [];
  const evalIds: string[] = [];
  const test: string[] = [];
  const evalFraction = opts.evalFraction ?? DEFAULT_EVAL_FRACTION;
  const testFraction = opts.testFraction ?? 0;
  for (const [label, members] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const units = shuffle(byContent(members), rng);
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
  const groups = new Map<string, SplitItem[]>();
  for (const item of items) {
    if (item.label === undefined) throw new ApiError('invalid_argument', `a ${method} split needs labels (a classification dataset)`, { field: 'split.method' });
    const list = groups.get(item.label) ?? [];
    list.push(item);
    groups.set(item.label, list);
  }
  return groups;
}

/** Members grouped by content key, in first-seen order (deterministic before shuffling). */
function byContent(members: SplitItem[]): SplitItem[][] {
  const units = new Map<number, SplitItem[]>();
  for (const m of members) {
    const unit = units.get(m.key);
    if (unit) unit.push(m);
    else units.set(m.key, [m]);
  }
  return [...units.values()];
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
