// The frozen train/eval split of a run: the eval split depends only on the split seed (stratified by label
// when every example has one), so every training seed and method shares it; k-shot training sets are then
// drawn per training seed from the rest. Each draws from its own derived stream (deriveSeed), so a split seed
// equal to the training seed does not make the k-shot draw repeat the eval draw.
import { ApiError } from '@shared/errors';
import { deriveSeed, SEED_PURPOSES } from '../derive-seed';
import { Rng } from './rng';

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
  const groups = new Map<string, string[]>();
  for (const e of examples) {
    const key = isLabelled ? (e.label as string) : '';
    groups.set(key, [...(groups.get(key) ?? []), e.id]);
  }
  const splitRng = Rng.fromSeed(deriveSeed(req.splitSeed, SEED_PURPOSES.evalSplit));
  const evalIds: string[] = [];
  const pools = new Map<string, string[]>();
  const groupCount = groups.size;
  for (const [key, ids] of groups) {
    const shuffled = splitRng.shuffle([...ids]);
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
  const byLabel = new Map<string, string[]>();
  for (const id of pool) {
    const label = labelOf.get(id);
    if (label === undefined) throw new ApiError('invalid_argument', 'kPerClass needs a labelled dataset (every example with a label)', { field: 'kPerClass' });
    byLabel.set(label, [...(byLabel.get(label) ?? []), id]);
  }
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
