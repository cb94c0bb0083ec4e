// The one pass over a dataset file that inspect, import and loadExamples share: read → detect task →
// normalise → validate → render → measure, streaming, with every problem located by file, line and field.
import { createHash } from 'node:crypto';
import type { Example, FieldMapping, InspectResult, PreviewRow, PromptTemplate, TaskKind } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { plainCause } from '../../platform/system-errors';
import { openDataset, type OpenedDataset } from '../readers/open-dataset';
import type { RawRow, ReaderEvent } from '../readers/reader-events';
import type { SplitItem } from '../splits/make-split';
import { TokenLengthStats } from '../stats/token-lengths';
import { detectTask, listColumns } from '../tasks/detect-task';
import { LabelResolver, labelNamesBeside, readLabelNamesFile } from '../tasks/labels';
import { normaliseRecord } from '../tasks/normalise-record';
import { ExampleRenderer } from '../tasks/render-example';
import { contentKey, DuplicateIndex } from '../validation/content-key';
import { IssueCollector } from '../validation/issue-collector';
import { finishInspect, unreadableResult } from './finish-scan';
import { checkRequestedSplit } from './split-checks';
import type { ScanOptions } from './scan-options';

/** A valid example as the pass produces it (import stores these). */
export interface ScannedExample extends Example {
  line: number;
  /** Content fingerprint (duplicates, overlap, splits). */
  key: number;
  /** Role values (label: its name), so another template can be applied later. */
  fields: Record<string, string>;
}

export interface ScanHooks {
  /** Each valid example in file order; awaited (import writes with backpressure). */
  onExample?: (example: ScannedExample) => void | Promise<void>;
  /** Another file's examples: matches are train_eval_overlap errors (eval-file checks). */
  overlapWith?: { file: string; index: DuplicateIndex };
  /** Report into this collector (an eval file's problems join its train file's). */
  issues?: IssueCollector;
}

export interface ScanOutcome {
  result: InspectResult;
  /** id, label, content key and line of every valid example (for splits). */
  items: (SplitItem & { line: number })[];
  duplicates: DuplicateIndex;
  template: PromptTemplate | null;
  labelNames?: Record<string, string>;
  /** Valid examples left out of training by truncation 'drop'. */
  dropped: number;
}

const SAMPLE_ROWS = 200;
const PREVIEW_CHARS = 500;
const PREVIEW_ITEMS = 50;
const PREVIEW_DEPTH = 8;
/** Column sets are fixed by the file for these formats, so a mapping to a missing column is caught early. */
const FIXED_COLUMNS = new Set(['csv', 'tsv', 'parquet', 'trec']);

export async function scanDataset(file: string, opts: ScanOptions = {}, hooks: ScanHooks = {}): Promise<ScanOutcome> {
  const issues = hooks.issues ?? new IssueCollector();
  const sha = createHash('sha256');
  const progress = { bytesRead: 0, totalBytes: 0, rows: 0 };
  let opened: OpenedDataset;
  try {
    opened = await openDataset(file, {
      format: opts.format,
      header: opts.header,
      textMode: opts.textMode,
      signal: opts.signal,
      onChunk: (chunk) => sha.update(chunk),
      onProgress: (bytesRead) => {
        progress.bytesRead = bytesRead;
        opts.onProgress?.({ phase: 'read', ...progress });
      },
    });
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'not_found' || err.code === 'bad_file')) {
      return { result: unreadableResult(file, err), items: [], duplicates: new DuplicateIndex(), template: null, dropped: 0 };
    }
    throw err;
  }
  progress.totalBytes = opened.sniff.bytes;
  // Whatever happens below, the reader (and its open file) is closed.
  try {
    // ---- peek: enough rows to detect the header, columns and task ----
    const events = opened.events;
    const held: ReaderEvent[] = [];
    let columns: string[] | undefined;
    let header: boolean | undefined;
    let exhausted = false;
    let sampled = 0;
    let unreadable: ApiError | undefined;
    try {
      while (sampled < SAMPLE_ROWS) {
        const next = await events.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const event = next.value;
        if (event.type === 'columns') [columns, header] = [event.columns, event.header];
        else held.push(event);
        if (event.type === 'row') sampled++;
      }
    } catch (err) {
      unreadable = asUnreadable(err);
      exhausted = true;
    }
    const sample = held.flatMap((e) => (e.type === 'row' ? [e.row.values] : []));
    columns ??= unionOfKeys(sample);

    // ---- task, labels, template ----
    const labelSource = await resolveLabelNames(file, opts);
    const labels = new LabelResolver({ ...opts, labelNames: labelSource?.names ?? opts.labelNames }, labelSource?.file);
    let task: TaskKind | null = null;
    let mapping: FieldMapping = {};
    let renderer: ExampleRenderer | undefined;
    if (sampled > 0) {
      const detection = detectTask({ columns, sample, task: opts.task, map: opts.map });
      if ('problem' in detection) issues.error('mapping', file, detection.problem, { line: 1 });
      else {
        ({ task, mapping } = detection);
        const absent = FIXED_COLUMNS.has(opened.format) ? Object.entries(mapping).filter(([, c]) => !columns!.includes(c)) : [];
        for (const [role, column] of absent) {
          issues.error('mapping', file, `no column ${JSON.stringify(column)} for ${role} (columns: ${listColumns(columns!)})`, { line: 1, field: role });
        }
        if (absent.length === 0) {
          renderer = new ExampleRenderer({ ...opts, task, mapping, labels, columns: FIXED_COLUMNS.has(opened.format) ? columns : undefined });
        }
      }
    }

    // ---- the pass ----
    const labelCounts: Record<string, number> = {};
    const preview: PreviewRow[] = [];
    const previewRows = opts.previewRows ?? 5;
    const items: (SplitItem & { line: number })[] = [];
    const duplicates = new DuplicateIndex();
    const lengths = new TokenLengthStats();
    let validRows = 0;
    let tooLong = 0;
    let dropped = 0;
    let complete = true;

    const addPreview = (row: RawRow, rendered?: { prompt: string; target: string }, label?: string): void => {
      if (preview.length >= previewRows) return;
      const p: PreviewRow = { id: String(row.ordinal), line: row.line, values: shorten(row.values), valid: rendered !== undefined };
      if (rendered) Object.assign(p, rendered);
      if (label !== undefined) p.label = label;
      preview.push(p);
    };

    const handle = async (event: ReaderEvent): Promise<void> => {
      if (event.type === 'columns') return;
      if (event.type === 'issue') {
        const { kind, severity, line, field, message, ordinal } = event.issue;
        issues.add({ kind, severity, file, message, ...(line !== undefined && { line }), ...(field !== undefined && { field }) });
        if (ordinal !== undefined) progress.rows++;
        return;
      }
      const row = event.row;
      progress.rows++;
      if (!renderer || !task) return addPreview(row);
      const normalised = normaliseRecord(row, task, mapping, labels);
      if (normalised.problems) {
        for (const p of normalised.problems) issues.error(p.kind, file, p.message, { line: row.line, field: p.field });
        return addPreview(row);
      }
      const record = normalised.record;
      let rendered: { prompt: string; target: string };
      try {
        rendered = renderer.render(record);
      } catch (err) {
        issues.error('template', file, `the chat template rejects this conversation: ${(err as Error).message}`, { line: row.line, field: mapping.messages });
        return addPreview(row);
      }
      const key = contentKey(record);
      const earlier = duplicates.check(key, row.line);
      if (earlier !== undefined && opts.duplicates !== 'ignore') {
        const message = `duplicate of the example at line ${earlier}`;
        if (opts.duplicates === 'error') {
          issues.error('duplicate', file, message, { line: row.line });
          return addPreview(row);
        }
        issues.warning('duplicate', file, message, { line: row.line });
      }
      const other = hooks.overlapWith?.index.lineOf(key);
      if (other !== undefined) {
        issues.error('train_eval_overlap', file, `this eval example is also in ${hooks.overlapWith!.file} at line ${other}`, { line: row.line });
        return addPreview(row);
      }
      if (opts.tokenizer) {
        // Bounded: long examples are cut to what training could use, and the pass has a character budget.
        const tokens = lengths.measure(opts.tokenizer, rendered.prompt, rendered.target, opts.contextLength);
        if (tokens !== undefined && opts.contextLength !== undefined && tokens > opts.contextLength) {
          tooLong++;
          issues.warning('too_long', file, `${tokens} tokens, more than the context of ${opts.contextLength}: ${truncationText(opts.truncation ?? 'left')}`, { line: row.line });
          if (opts.truncation === 'drop') {
            dropped++;
            return addPreview(row, rendered, record.label);
          }
        }
      }
      validRows++;
      if (record.label !== undefined) {
        labelCounts[record.label] = (labelCounts[record.label] ?? 0) + 1;
      }
      const id = String(row.ordinal);
      items.push({ id, label: record.label, key, line: row.line });
      addPreview(row, rendered, record.label);
      if (hooks.onExample) {
        const example: ScannedExample = { id, line: row.line, key, ...rendered, fields: record.roles };
        if (record.label !== undefined) example.label = record.label;
        if (record.finalAnswer !== undefined) example.finalAnswer = record.finalAnswer;
        await hooks.onExample(example);
      }
    };

    const atLimit = (): boolean => opts.limitRows !== undefined && progress.rows >= opts.limitRows;
    // splice: the held rows are released as they are handled.
    for (const event of held.splice(0)) {
      if (atLimit()) {
        complete = false;
        break;
      }
      await handle(event);
    }
    try {
      while (!exhausted && complete) {
        const next = await events.next();
        if (next.done) break;
        if (atLimit()) {
          complete = false;
          break;
        }
        await handle(next.value);
      }
    } catch (err) {
      unreadable = asUnreadable(err);
    }
    const sha256 = complete ? sha.digest('hex') : null;

    // ---- checks that need the whole file ----
    if (sha256 && !unreadable && task) {
      if (opts.split) await checkRequestedSplit(file, opts.split, items, sha256, mapping.label, issues);
      if (opts.evalFile) {
        const evalOpts: ScanOptions = { ...opts, task, map: mapping, split: undefined, evalFile: undefined, limitRows: undefined, previewRows: 0, onProgress: undefined };
        await scanDataset(opts.evalFile, evalOpts, { overlapWith: { file, index: duplicates }, issues });
      }
    }

    const result = finishInspect({
      file,
      opened,
      issues,
      columns,
      header,
      task,
      mapping,
      rows: progress.rows,
      validRows,
      labelCounts,
      preview,
      lengths,
      tooLong,
      complete,
      sha256,
      unreadable,
      opts,
    });
    return { result, items, duplicates, template: renderer?.template ?? null, labelNames: labelSource?.names ?? opts.labelNames, dropped };
  } finally {
    await opened.events.return(undefined).catch(() => {});
  }
}

/** Errors that mean the rest of the file cannot be read (cancellation and bugs still throw). */
function asUnreadable(err: unknown): ApiError {
  if (err instanceof ApiError && err.code === 'bad_file') return err;
  throw err;
}

async function resolveLabelNames(file: string, opts: ScanOptions): Promise<{ names: Record<string, string>; file: string } | undefined> {
  if (opts.labelNames || opts.labelNamesFile === false) return undefined;
  if (typeof opts.labelNamesFile === 'string') {
    try {
      return await readLabelNamesFile(opts.labelNamesFile);
    } catch (err) {
      throw new ApiError('invalid_argument', `cannot read label names: ${plainCause(err)}`, { file: opts.labelNamesFile, field: 'labelNamesFile' });
    }
  }
  return labelNamesBeside(file);
}

function unionOfKeys(rows: Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) keys.add(key);
  return [...keys];
}

function shorten(values: Record<string, unknown>): Record<string, unknown> {
  // fromEntries defines keys, so a field named "__proto__" stays a field instead of replacing the prototype.
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, clip(v, 0)]));
}

/**
 * A preview value small enough to send: strings cut to PREVIEW_CHARS, lists to PREVIEW_ITEMS, nesting to
 * PREVIEW_DEPTH. A record nested 100,000 deep parses fine but would overflow the stack of JSON.stringify and
 * structured clone when the result is sent.
 */
function clip(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.length > PREVIEW_CHARS ? `${value.slice(0, PREVIEW_CHARS)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= PREVIEW_DEPTH) return '…';
  if (Array.isArray(value)) {
    const items = value.slice(0, PREVIEW_ITEMS).map((v) => clip(v, depth + 1));
    return value.length > PREVIEW_ITEMS ? [...items, `… ${value.length - PREVIEW_ITEMS} more`] : items;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const kept = entries.slice(0, PREVIEW_ITEMS).map(([k, v]): [string, unknown] => [k, clip(v, depth + 1)]);
  if (entries.length > PREVIEW_ITEMS) kept.push(['…', `${entries.length - PREVIEW_ITEMS} more fields`]);
  return Object.fromEntries(kept);
}

export function truncationText(rule: 'left' | 'right' | 'drop'): string {
  if (rule === 'left') return 'prompt tokens after BOS will be dropped from the left so the target fits';
  if (rule === 'right') return 'tokens past the context will be dropped from the end';
  return 'the example will be left out of training';
}
