// What a run trains on, fingerprinted for its manifest: the base model's weight files and the dataset
// (sha256), and the examples read from it (datasets/load-examples.ts).
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Example } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { fromSystemError } from '../../platform/system-errors';
import { isDatasetDir, readManifest } from '../../datasets/store/dataset-folder';
import { loadExamples } from '../../datasets/load-examples';
import { scanDataset } from '../../datasets/scan/scan-dataset';
import type { ScanOptions } from '../../datasets/scan/scan-options';

export type { Example };

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    // The first read of a run's model and data files: "<file>: no such file or folder (ENOENT)", not Node's text.
    throw fromSystemError(err, path);
  }
  return hash.digest('hex');
}

const WEIGHT_FILE = /(\.safetensors|\.bin|\.pt|\.pth|\.gguf)$/;

/** The files that define a model's weights (HF folder: config.json and weight files; else the file itself). */
export async function modelFingerprint(path: string): Promise<{ path: string; sha256: string; bytes: number }[]> {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((name) => name === 'config.json' || WEIGHT_FILE.test(name))
        .sort()
        .map((name) => join(path, name))
    : [path];
  const out: { path: string; sha256: string; bytes: number }[] = [];
  for (const file of files) out.push({ path: basename(file), sha256: await sha256File(file), bytes: statSync(file).size });
  return out;
}

/**
 * Every example of a dataset file (any format the dataset service reads: JSONL, CSV/TSV, Parquet, …, with
 * its detected task and default template) or of an imported dataset folder, in file order.
 */
export async function readExamples(path: string): Promise<Example[]> {
  if (!existsSync(path)) throw new ApiError('not_found', 'dataset does not exist', { file: path });
  const examples = await loadExamples(path);
  if (examples.length === 0) throw new ApiError('bad_file', 'the dataset has no examples', { file: path });
  return examples;
}

/**
 * How the training data was read: its task, field mapping, template and label names/verbaliser, so a test file
 * (`--eval-data`) is read exactly the same way. An imported dataset keeps them in its manifest; a source file's
 * are detected again from its first rows (detection only looks at those), the rest of the file left unread.
 */
export async function trainingReadOptions(dataPath: string): Promise<ScanOptions> {
  if (await isDatasetDir(dataPath)) {
    const m = await readManifest(dataPath);
    return {
      task: m.task,
      map: m.mapping,
      ...(m.template ? { template: m.template } : {}),
      ...(m.labelNames ? { labelNames: m.labelNames, labelNamesFile: false } : {}),
      ...(m.verbalizer ? { verbalizer: m.verbalizer } : {}),
      ...(m.chatTemplate ? { chatTemplate: m.chatTemplate } : {}),
    };
  }
  const { result, template, labelNames } = await scanDataset(dataPath, { previewRows: 0, limitRows: DETECTION_ROWS, duplicates: 'ignore' });
  if (!result.task) return {};
  return {
    task: result.task,
    map: result.mapping,
    ...(template ? { template } : {}),
    // Numeric labels named by a classes.txt beside the training file keep those names in the test file too.
    ...(labelNames ? { labelNames, labelNamesFile: false } : {}),
  };
}

/** Rows task detection reads (scan-dataset's sample); enough to resolve the training file's mapping. */
const DETECTION_ROWS = 200;

/**
 * The examples of a test file (`--eval-data`), read with the training data's task, mapping and template; a bad
 * row fails naming the test file and its line. Ids are the test file's own (they may repeat training ids).
 */
export async function readEvalExamples(evalPath: string, dataPath: string): Promise<Example[]> {
  if (!existsSync(evalPath)) throw new ApiError('not_found', 'eval data file does not exist', { file: evalPath });
  if (statSync(evalPath).isDirectory()) throw new ApiError('bad_file', 'eval data must be a file (a test set in any dataset format), not a folder', { file: evalPath });
  const examples = await loadExamples(evalPath, { read: await trainingReadOptions(dataPath) });
  if (examples.length === 0) throw new ApiError('bad_file', 'the eval data file has no examples', { file: evalPath });
  return examples;
}

/** sha256 of a dataset file, or of an imported dataset's source file (from its manifest). */
export async function datasetFingerprint(path: string): Promise<string> {
  if (await isDatasetDir(path)) return (await readManifest(path)).source.sha256;
  return sha256File(path);
}

/**
 * @deprecated Stop-gap reader from before the dataset service; use readExamples (run-insights.ts still
 * calls this one). JSONL with one object per line: {prompt, completion|target, label?} or {text, label} (then prompt =
 * "<text>\nLabel:" and target = " <label>"). id = the record's "id" field, else its 1-based line number.
 */
export function readExamplesFile(path: string): Example[] {
  if (!existsSync(path)) throw new ApiError('not_found', 'dataset file does not exist', { file: path });
  const examples: Example[] = [];
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new ApiError('bad_file', `line is not valid JSON (${(err as Error).message})`, { file: path, line: i + 1 });
    }
    const id = typeof record.id === 'string' || typeof record.id === 'number' ? String(record.id) : String(i + 1);
    const label = record.label === undefined || record.label === null ? undefined : String(record.label);
    const completion = record.completion ?? record.target;
    if (typeof record.prompt === 'string' && typeof completion === 'string') {
      examples.push({ id, prompt: record.prompt, target: completion, ...(label !== undefined ? { label } : {}) });
    } else if (typeof record.text === 'string' && label !== undefined) {
      examples.push({ id, prompt: `${record.text}\nLabel:`, target: ` ${label}`, label });
    } else {
      throw new ApiError('bad_file', 'expected {prompt, completion} or {text, label}', { file: path, line: i + 1 });
    }
  });
  if (examples.length === 0) throw new ApiError('bad_file', 'the dataset has no examples', { file: path });
  return examples;
}
