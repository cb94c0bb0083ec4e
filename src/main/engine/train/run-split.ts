// A run's train and eval examples from its RunSpec's split: the stored (frozen) split as is, or a seeded split of the
// dataset, with the k-shot draw by the training seed. One place, so the training job and the torch engine's
// hand-off (engine/torch/handoff.ts) always train and score the same examples.
import type { Example } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import type { RunSpec } from '@shared/run-spec';
import { splitExamples, useGivenSplit } from '../../datasets/splits/make-split';

/** The split's train and eval ids for a new run at `seed` (`splitSeed`: the trainer's split seed). */
export function splitIdsOf(examples: Example[], splitSpec: RunSpec['data']['split'], splitSeed: number, seed: number): { trainIds: string[]; evalIds: string[] } {
  return splitSpec.frozen
    ? useGivenSplit(examples, splitSpec.frozen, splitSpec.kPerClass, seed)
    : splitExamples(examples, { splitSeed, evalSplit: splitSpec.evalSplit, kPerClass: splitSpec.kPerClass, seed });
}

/** ids → examples, in the ids' order; an id the dataset lacks is one line naming the dataset. */
export function examplesOf(examples: Example[], ids: string[], dataPath: string): Example[] {
  const byId = new Map(examples.map((e) => [e.id, e]));
  return ids.map((id) => {
    const e = byId.get(id);
    if (!e) throw new ApiError('conflict', `example ${id} of the frozen split is not in the dataset`, { file: dataPath });
    return e;
  });
}
