// Import = one validating pass that streams the normalised examples into a new dataset folder, then the
// manifest (source, sha256, format, encoding, task, mapping, template, counts) and the requested split.
// Invalid rows stop the import unless excludeInvalid; then they are left out and counted.
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import type { DatasetManifest, IssueKind, Split, SplitOptions } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { writeJsonAtomic } from '../../platform/atomic-write';
import { scanDataset } from '../scan/scan-dataset';
import type { ScanOptions } from '../scan/scan-options';
import { computeSplit } from '../splits/make-split';
import { checkSplit, readSplitFile } from '../splits/split-file';
import { buildDatasetFolder, EXAMPLES_FILE, JsonlWriter, MANIFEST_FILE, writeSplit } from './dataset-folder';

export interface ImportOptions extends Omit<ScanOptions, 'limitRows' | 'previewRows' | 'evalFile'> {
  /** Leave invalid rows out (counted in the manifest) instead of failing. */
  excludeInvalid?: boolean;
  /** Display name (default: the file name). */
  name?: string;
  /** Stored as splits/<splitName>.json (default "default") when `split` is given. */
  splitName?: string;
}

/** Problems of single rows: excludeInvalid can leave those rows out. Any other error fails the import. */
const ROW_KINDS = new Set<IssueKind>(['unparseable', 'missing_field', 'wrong_type', 'empty_text', 'unknown_label', 'template', 'duplicate']);

/**
 * Throws ApiError: bad_file (unreadable), invalid_data (errors; file/line/field of the first), invalid_argument
 * (a bad template or mapping), cancelled.
 */
export async function importDataset(file: string, opts: ImportOptions, homeDir: string): Promise<DatasetManifest> {
  const source = resolve(file);
  return buildDatasetFolder(homeDir, async (tempDir) => {
    const writer = new JsonlWriter(join(tempDir, EXAMPLES_FILE));
    let outcome;
    try {
      outcome = await scanDataset(source, { ...opts, split: opts.split }, { onExample: (ex) => writer.write(ex) });
      await writer.close();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const r = outcome.result;
    const first = r.errors[0];
    if (r.status === 'unreadable') throw new ApiError('bad_file', first?.message ?? 'unreadable', { file: source, line: first?.line });
    const blocking = r.errors.filter((e) => !ROW_KINDS.has(e.kind));
    const hasRowErrors = Object.keys(r.errorCounts).some((k) => ROW_KINDS.has(k as IssueKind));
    if (blocking.length > 0 || (hasRowErrors && !opts.excludeInvalid)) {
      const shown = blocking[0] ?? first!;
      const counts = Object.entries(r.errorCounts)
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ');
      const hint = blocking.length === 0 ? '; import with excludeInvalid to leave those rows out' : '';
      throw new ApiError('invalid_data', `${shown.message} (${counts}${hint})`, { file: shown.file, line: shown.line, field: shown.field });
    }
    if (writer.count === 0) throw new ApiError('invalid_data', 'no valid examples to import', { file: source });
    const sha256 = r.sha256!;
    const splitNames: string[] = [];
    if (opts.split) {
      const split = await splitFor(opts.split, outcome.items, sha256, source);
      const name = opts.splitName ?? 'default';
      await writeSplit(tempDir, name, split);
      splitNames.push(name);
    }
    const excludedCounts: Record<string, number> = {};
    for (const [kind, n] of Object.entries(r.errorCounts)) if (ROW_KINDS.has(kind as IssueKind)) excludedCounts[kind] = n;
    if (outcome.dropped > 0) excludedCounts.too_long = outcome.dropped;
    const id = datasetId(opts.name ?? basename(source), sha256, opts, r.task!, r.mapping);
    const manifest: DatasetManifest = {
      version: 1,
      id,
      name: opts.name ?? basename(source),
      source: { path: source, sha256, bytes: r.bytes },
      format: r.format!,
      encoding: r.encoding!,
      task: r.task!,
      mapping: r.mapping,
      template: outcome.template,
      rows: r.rows,
      examples: writer.count,
      excluded: r.rows - writer.count,
      excludedCounts,
      labels: r.labels,
      splits: splitNames,
      createdAt: new Date().toISOString(),
    };
    if (opts.chatTemplate) manifest.chatTemplate = opts.chatTemplate;
    if (outcome.labelNames) manifest.labelNames = outcome.labelNames;
    if (opts.verbalizer) manifest.verbalizer = opts.verbalizer;
    if (r.tokenLengths) manifest.tokenLengths = r.tokenLengths;
    await writeJsonAtomic(join(tempDir, MANIFEST_FILE), manifest);
    // Same content and options → same id, so re-importing replaces the folder rather than adding one.
    return { id, value: manifest };
  });
}

async function splitFor(opts: SplitOptions, items: Parameters<typeof checkSplit>[1], sha256: string, source: string): Promise<Split> {
  if (opts.method !== 'file') return computeSplit(items, opts, sha256);
  const split = await readSplitFile(opts.file!, sha256, opts.seed ?? 0);
  const problems = checkSplit(split, items, sha256, { dataset: source, split: opts.file! });
  if (problems.length > 0) throw new ApiError('invalid_data', `${problems[0].message} (${problems.length} problem(s) with the split file)`, problems[0]);
  return split;
}

/** `<slug>-<8 hex>` from the name, content and everything that shapes the examples. */
function datasetId(name: string, sha256: string, opts: ImportOptions, task: string, mapping: Record<string, string>): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/g, '') || 'dataset';
  const shaping = JSON.stringify([
    sha256,
    task,
    mapping,
    opts.template,
    opts.labelNames,
    opts.verbalizer,
    opts.chatTemplate,
    opts.excludeInvalid,
    opts.split,
    opts.truncation,
    opts.contextLength,
  ]);
  return `${slug}-${createHash('sha256').update(shaping).digest('hex').slice(0, 8)}`;
}
