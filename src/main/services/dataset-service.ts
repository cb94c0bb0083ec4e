// The datasets service: inspect a file (the JSON of `prefixlab data inspect FILE --json`), import it into
// the app folder, make splits, preview tokens, and hand examples to the trainer. No Electron imports.
import { resolve } from 'node:path';
import type { DatasetManifest, InspectResult, Split, SplitOptions, TokenPreview } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { iterateRows } from '../datasets/readers/open-dataset';
import { scanDataset } from '../datasets/scan/scan-dataset';
import type { ScanOptions } from '../datasets/scan/scan-options';
import { computeSplit, type SplitItem } from '../datasets/splits/make-split';
import { checkSplit, readSplitFile } from '../datasets/splits/split-file';
import { tokenPreview, type TokenPreviewOptions } from '../datasets/stats/token-preview';
import type { DatasetTokenizer } from '../datasets/stats/tokenize-example';
import { readManifest, readStoredExamples, writeSplit } from '../datasets/store/dataset-folder';
import { importDataset as importIntoHome, type ImportOptions } from '../datasets/store/import-dataset';
import { writeJsonAtomic } from '../platform/atomic-write';
import { loadExamples, storedDir, type DatasetSource, type LoadExamplesOptions } from '../datasets/load-examples';

export type { ImportOptions, ScanOptions, DatasetTokenizer, DatasetSource, LoadExamplesOptions };
export { iterateRows, loadExamples };
/** The template a task gets when the user has not written one (the Datasets view starts from it). */
export { defaultTemplate } from '../datasets/tasks/default-templates';

export type InspectOptions = ScanOptions;

/**
 * Reads the whole file once (streaming) and reports everything: never throws for a bad file — status/exitCode
 * say 'invalid' (1) or 'unreadable' (2). Throws ApiError invalid_argument (bad template or options) or cancelled.
 */
export async function inspectDataset(file: string, opts: InspectOptions = {}): Promise<InspectResult> {
  return (await scanDataset(resolve(file), opts)).result;
}

/** The first `rows` records only, rendered with the template: the UI's live preview (complete: false). */
export async function previewDataset(file: string, opts: InspectOptions & { rows?: number } = {}): Promise<InspectResult> {
  const rows = opts.rows ?? 20;
  return (await scanDataset(resolve(file), { ...opts, limitRows: rows, previewRows: rows })).result;
}

/** Stores `<home>/datasets/<id>/{manifest.json, examples.jsonl, splits/}`; see import-dataset.ts for errors. */
export async function importDataset(file: string, opts: ImportOptions, homeDir: string): Promise<DatasetManifest> {
  return importIntoHome(file, opts, homeDir);
}

export interface MakeSplitOptions extends SplitOptions {
  /** Save as splits/<save>.json of an imported dataset. */
  save?: string;
  /** How to read a source file (task, mapping…); ignored for imported datasets. */
  read?: ScanOptions;
}

/**
 * A frozen split of the valid examples: same content + seed → same ids. Throws ApiError invalid_argument
 * (a class too small for the method), invalid_data (a split file that does not fit the data).
 */
export async function makeSplit(source: DatasetSource, opts: MakeSplitOptions): Promise<Split> {
  const { items, sha256, dir, file } = await splitItemsOf(source, opts.read);
  let split: Split;
  if (opts.method === 'file') {
    if (!opts.file) throw new ApiError('invalid_argument', "a 'file' split needs file", { field: 'file' });
    split = await readSplitFile(opts.file, sha256, opts.seed ?? 0);
    const problems = checkSplit(split, items, sha256, { dataset: file, split: opts.file });
    if (problems.length > 0) throw new ApiError('invalid_data', `${problems[0].message} (${problems.length} problem(s))`, problems[0]);
  } else {
    split = computeSplit(items, opts, sha256);
  }
  if (opts.save) {
    if (!dir) throw new ApiError('invalid_argument', 'only an imported dataset can store splits', { field: 'save' });
    await writeSplit(dir, opts.save, split);
    const manifest = await readManifest(dir);
    if (!manifest.splits.includes(opts.save)) await writeJsonAtomic(`${dir}/manifest.json`, { ...manifest, splits: [...manifest.splits, opts.save] });
  }
  return split;
}

export function previewTokens(example: { prompt: string; target: string; label?: string }, tokenizer: DatasetTokenizer, opts: TokenPreviewOptions = {}): TokenPreview {
  return tokenPreview(tokenizer, example, opts);
}

async function splitItemsOf(source: DatasetSource, read?: ScanOptions): Promise<{ items: (SplitItem & { line: number })[]; sha256: string; dir?: string; file: string }> {
  const dir = await storedDir(source);
  if (dir) {
    const manifest = await readManifest(dir);
    const items: (SplitItem & { line: number })[] = [];
    for await (const e of readStoredExamples(dir)) items.push({ id: e.id, label: e.label, key: e.key, line: e.line });
    return { items, sha256: manifest.source.sha256, dir, file: manifest.source.path };
  }
  const file = resolve(source as string);
  const outcome = await scanDataset(file, { ...read, previewRows: 0, split: undefined });
  const r = outcome.result;
  if (r.status === 'unreadable' || !r.sha256) throw new ApiError('bad_file', r.errors[0]?.message ?? 'unreadable', { file });
  return { items: outcome.items, sha256: r.sha256, file };
}
