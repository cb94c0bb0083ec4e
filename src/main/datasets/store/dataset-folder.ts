// <home>/datasets/<id>/: manifest.json, examples.jsonl (normalised examples, one per line) and
// splits/<name>.json. A dataset folder is built under a hidden temp name and renamed into place, so a
// listing never sees half an import.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetManifestSchema, SplitSchema, type DatasetManifest, type Split } from '@shared/contract/datasets';
import { ApiError, zodIssueError } from '@shared/errors';
import { plainCause } from '../../platform/system-errors';
import { fsyncDir, writeJsonAtomic } from '../../platform/atomic-write';
import type { ScannedExample } from '../scan/scan-dataset';

export const DATASETS_DIR = 'datasets';
export const EXAMPLES_FILE = 'examples.jsonl';
export const MANIFEST_FILE = 'manifest.json';
export const SPLITS_DIR = 'splits';

export type StoredExample = ScannedExample;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SPLIT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function datasetDir(homeDir: string, id: string): string {
  if (!ID_PATTERN.test(id) || id.includes('..')) throw new ApiError('invalid_argument', `${JSON.stringify(id)} is not a valid dataset id`, { field: 'id' });
  return join(homeDir, DATASETS_DIR, id);
}

export function checkSplitName(name: string): string {
  if (!SPLIT_NAME.test(name) || name.includes('..')) throw new ApiError('invalid_argument', `${JSON.stringify(name)} is not a valid split name`, { field: 'split.name' });
  return name;
}

export async function isDatasetDir(path: string): Promise<boolean> {
  try {
    return (await stat(join(path, MANIFEST_FILE))).isFile();
  } catch {
    return false;
  }
}

/** Appends JSON lines in 1 MiB batches; close() fsyncs. */
export class JsonlWriter {
  private handle?: FileHandle;
  private pending: string[] = [];
  private pendingChars = 0;
  count = 0;

  constructor(private readonly path: string) {}

  async write(value: unknown): Promise<void> {
    this.pending.push(JSON.stringify(value));
    this.pendingChars += this.pending[this.pending.length - 1].length;
    this.count++;
    if (this.pendingChars >= 1 << 20) await this.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.handle ??= await open(this.path, 'w');
    await this.handle.sync();
    await this.handle.close();
    this.handle = undefined;
  }

  async abort(): Promise<void> {
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
  }

  private async flush(): Promise<void> {
    this.handle ??= await open(this.path, 'w');
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingChars = 0;
    await this.handle.write(text);
  }
}

/**
 * Builds a dataset folder in a hidden temp folder (listings skip dot-names), then renames it to the id that
 * `build` returns (known only at the end: it hashes the content). An existing folder of that id is replaced.
 */
export async function buildDatasetFolder<T>(homeDir: string, build: (tempDir: string) => Promise<{ id: string; value: T }>): Promise<T> {
  const root = join(homeDir, DATASETS_DIR);
  await mkdir(root, { recursive: true });
  const tempDir = join(root, `.tmp-${randomBytes(6).toString('hex')}`);
  await mkdir(join(tempDir, SPLITS_DIR), { recursive: true });
  try {
    const { id, value } = await build(tempDir);
    const finalDir = datasetDir(homeDir, id);
    await fsyncDir(join(tempDir, SPLITS_DIR));
    await fsyncDir(tempDir);
    // Move the old folder aside, the new one in, then delete the old: never a moment without either.
    const old = join(root, `.old-${randomBytes(6).toString('hex')}`);
    const hadOld = await rename(finalDir, old).then(
      () => true,
      () => false,
    );
    await rename(tempDir, finalDir);
    await fsyncDir(root);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return value;
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

export async function readManifest(dir: string): Promise<DatasetManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
  } catch (err) {
    throw new ApiError('not_found', `no dataset manifest in ${dir}: ${plainCause(err)}`, { file: join(dir, MANIFEST_FILE) });
  }
  const parsed = DatasetManifestSchema.safeParse(raw);
  if (!parsed.success) throw zodIssueError(parsed.error, 'bad_file', 'unreadable dataset manifest', { file: join(dir, MANIFEST_FILE) });
  return parsed.data;
}

export async function* readStoredExamples(dir: string): AsyncGenerator<StoredExample> {
  const file = join(dir, EXAMPLES_FILE);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (!text) continue;
    try {
      yield JSON.parse(text) as StoredExample;
    } catch (err) {
      throw new ApiError('bad_file', `damaged examples file: ${(err as Error).message}`, { file, line });
    }
  }
}

export async function writeSplit(dir: string, name: string, split: Split): Promise<void> {
  await mkdir(join(dir, SPLITS_DIR), { recursive: true });
  await writeJsonAtomic(join(dir, SPLITS_DIR, `${checkSplitName(name)}.json`), split);
}

export async function readSplit(dir: string, name: string): Promise<Split> {
  const file = join(dir, SPLITS_DIR, `${checkSplitName(name)}.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ApiError('not_found', `no split ${JSON.stringify(name)}: ${plainCause(err)}`, { file });
  }
  const parsed = SplitSchema.safeParse(raw);
  if (!parsed.success) throw zodIssueError(parsed.error, 'bad_file', 'unreadable split', { file });
  return parsed.data;
}
