// Splits that already exist: a JSON file of row ids ({trainIds, evalIds, testIds?} — our own split
// format — or {train, eval, test?}), checked against the dataset: unknown ids, a split made for another
// file, and examples that sit in both train and eval.
import { readFile } from 'node:fs/promises';
import type { DatasetIssue, Split } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { plainCause } from '../../platform/system-errors';
import { deepFreeze, type SplitItem } from './make-split';

export interface LocatedSplitItem extends SplitItem {
  line: number;
}

export async function readSplitFile(path: string, sourceSha256: string, seed = 0): Promise<Split> {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ApiError('bad_file', `cannot read the split file: ${plainCause(err)}`, { file: path });
  }
  const ids = (key: string, alt: string): string[] | undefined => {
    const list = data[key] ?? data[alt];
    if (list === undefined) return undefined;
    if (!Array.isArray(list)) throw new ApiError('bad_file', `${key} must be a list of row ids`, { file: path, field: key });
    return list.map(String);
  };
  const trainIds = ids('trainIds', 'train');
  const evalIds = ids('evalIds', 'eval') ?? ids('evalIds', 'validation');
  if (!trainIds || !evalIds) throw new ApiError('bad_file', 'a split file needs trainIds and evalIds (or train and eval)', { file: path });
  const testIds = ids('testIds', 'test');
  const split: Split = {
    sourceSha256: typeof data.sourceSha256 === 'string' ? data.sourceSha256 : sourceSha256,
    seed: typeof data.seed === 'number' ? data.seed : seed,
    method: 'file',
    trainIds,
    evalIds,
  };
  if (testIds) split.testIds = testIds;
  return deepFreeze(split);
}

/** Every problem of `split` against the dataset's rows (ids, sha, overlap by id and by content). */
export function checkSplit(split: Split, items: LocatedSplitItem[], sourceSha256: string, files: { dataset: string; split: string }): DatasetIssue[] {
  const problems: DatasetIssue[] = [];
  const issue = (kind: DatasetIssue['kind'], file: string, message: string, line?: number, field?: string): void => {
    const p: DatasetIssue = { kind, severity: 'error', file, message };
    if (line !== undefined) p.line = line;
    if (field !== undefined) p.field = field;
    problems.push(p);
  };
  if (split.sourceSha256 !== sourceSha256) {
    issue(
      'bad_split',
      files.split,
      `the split was made for a different file (sha256 ${split.sourceSha256.slice(0, 12)}…, this file ${sourceSha256.slice(0, 12)}…)`,
      undefined,
      'sourceSha256',
    );
  }
  const byId = new Map(items.map((i) => [i.id, i]));
  const sides = { trainIds: split.trainIds, evalIds: split.evalIds, testIds: split.testIds ?? [] };
  for (const [field, ids] of Object.entries(sides)) {
    for (const id of ids) if (!byId.has(id)) issue('bad_split', files.split, `row id ${id} is not a valid row of the dataset`, undefined, field);
  }
  const trainIds = new Set(split.trainIds);
  const trainKeys = new Map<number, number>();
  for (const id of split.trainIds) {
    const item = byId.get(id);
    if (item && !trainKeys.has(item.key)) trainKeys.set(item.key, item.line);
  }
  for (const id of [...split.evalIds, ...(split.testIds ?? [])]) {
    const item = byId.get(id);
    if (trainIds.has(id)) issue('train_eval_overlap', files.split, `row id ${id} is in train and in eval/test`, item?.line, 'evalIds');
    else if (item && trainKeys.has(item.key)) {
      issue('train_eval_overlap', files.dataset, `eval example (row ${id}) repeats the train example at line ${trainKeys.get(item.key)}`, item.line);
    }
  }
  return problems;
}
