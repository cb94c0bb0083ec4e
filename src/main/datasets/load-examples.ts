// The examples a trainer consumes, from a dataset source file (any format the readers detect, with its task
// and template, invalid rows an error) or an imported dataset's folder, optionally one side of a split.
// Data code: the dataset service hands it on, and the training engine reads through it.
import { resolve } from 'node:path';
import type { Example, Split } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { scanDataset } from './scan/scan-dataset';
import type { ScanOptions } from './scan/scan-options';
import { datasetDir, isDatasetDir, readSplit, readStoredExamples } from './store/dataset-folder';

/** A source file, an imported dataset's folder, or an imported dataset by id. */
export type DatasetSource = string | { homeDir: string; id: string };

export interface LoadExamplesOptions {
  /** Only this side of a split. */
  split?: 'train' | 'eval' | 'test';
  /** A stored split's name (imported datasets; default "default"), or a Split object. */
  splitName?: string;
  splitObject?: Split;
  /** How to read a source file; its invalid rows are an error unless excludeInvalid. */
  read?: ScanOptions & { excludeInvalid?: boolean };
}

/** The examples the trainer consumes, in file order. */
export async function loadExamples(source: DatasetSource, opts: LoadExamplesOptions = {}): Promise<Example[]> {
  const examples: Example[] = [];
  const keep = (e: Example): void => {
    const out: Example = { id: e.id, prompt: e.prompt, target: e.target };
    if (e.label !== undefined) out.label = e.label;
    if (e.finalAnswer !== undefined) out.finalAnswer = e.finalAnswer;
    examples.push(out);
  };
  const dir = await storedDir(source);
  if (dir) {
    for await (const e of readStoredExamples(dir)) keep(e);
  } else {
    const file = resolve(source as string);
    const outcome = await scanDataset(file, { ...opts.read, previewRows: 0 }, { onExample: keep });
    const r = outcome.result;
    const rowErrors = r.errors.length > 0 && !(opts.read?.excludeInvalid && r.status === 'invalid' && r.validRows > 0);
    if (r.status === 'unreadable' || rowErrors) {
      const first = r.errors[0];
      throw new ApiError(r.status === 'unreadable' ? 'bad_file' : 'invalid_data', first.message, { file: first.file, line: first.line, field: first.field });
    }
  }
  if (!opts.split) return examples;
  const split = opts.splitObject ?? (dir ? await readSplit(dir, opts.splitName ?? 'default') : undefined);
  if (!split) throw new ApiError('invalid_argument', 'a split of a source file needs splitObject', { field: 'splitObject' });
  const ids = new Set(opts.split === 'train' ? split.trainIds : opts.split === 'eval' ? split.evalIds : (split.testIds ?? []));
  return examples.filter((e) => ids.has(e.id));
}

/** The imported dataset's folder `source` names, or undefined for a source file. */
export async function storedDir(source: DatasetSource): Promise<string | undefined> {
  if (typeof source !== 'string') return datasetDir(source.homeDir, source.id);
  return (await isDatasetDir(source)) ? resolve(source) : undefined;
}
