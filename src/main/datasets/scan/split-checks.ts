// Before training: is the requested split possible (enough examples per class) and, for an existing split
// file, does it fit this file without putting an example in both train and eval?
import type { SplitOptions } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { checkSplit, readSplitFile, type LocatedSplitItem } from '../splits/split-file';
import type { IssueCollector } from '../validation/issue-collector';

export async function checkRequestedSplit(
  file: string,
  split: SplitOptions,
  items: LocatedSplitItem[],
  sha256: string,
  labelColumn: string | undefined,
  issues: IssueCollector,
): Promise<void> {
  if (split.method === 'file') {
    if (!split.file) throw new ApiError('invalid_argument', "a 'file' split needs split.file", { field: 'split.file' });
    try {
      const existing = await readSplitFile(split.file, sha256, split.seed ?? 0);
      for (const problem of checkSplit(existing, items, sha256, { dataset: file, split: split.file })) issues.add(problem);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      issues.error('bad_split', split.file, err.message, { field: err.field });
    }
    return;
  }
  const hasLabels = items.length > 0 && items.every((i) => i.label !== undefined);
  const method = split.method ?? (hasLabels ? 'stratified' : 'random');
  if (method === 'random') {
    const distinct = new Set(items.map((i) => i.key)).size;
    if (distinct < 2) issues.error('too_few_examples', file, `${distinct} distinct example(s); a train/eval split needs at least 2`);
    return;
  }
  if (!hasLabels) {
    issues.error('too_few_examples', file, `a ${method} split needs labelled (classification) examples`, { field: 'split.method' });
    return;
  }
  const need = method === 'kshot' ? (split.k ?? 1) : 2;
  const perLabel = new Map<string, { keys: Set<number>; line: number }>();
  for (const item of items) {
    const entry = perLabel.get(item.label!) ?? { keys: new Set<number>(), line: item.line };
    entry.keys.add(item.key);
    perLabel.set(item.label!, entry);
  }
  for (const [label, { keys, line }] of perLabel) {
    if (keys.size >= need) continue;
    const why = method === 'kshot' ? `k-shot with k = ${need} needs ${need}` : 'a stratified split needs 2 (one for train, one for eval)';
    issues.error('too_few_examples', file, `label ${JSON.stringify(label)} has ${keys.size} distinct example(s); ${why}`, { line, field: labelColumn });
  }
}
