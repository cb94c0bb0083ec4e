// Turns the state at the end of a pass into the public InspectResult: file-level problems (encoding,
// no rows, unreadable), issue order, status and exit code.
import type { FieldMapping, InspectResult, PreviewRow, TaskKind } from '@shared/contract/datasets';
import type { ApiError } from '@shared/errors';
import type { OpenedDataset } from '../readers/open-dataset';
import type { TokenLengthStats } from '../stats/token-lengths';
import type { IssueCollector } from '../validation/issue-collector';
import type { ScanOptions } from './scan-options';
import { listColumns } from '../tasks/detect-task';

export interface ScanState {
  file: string;
  opened: OpenedDataset;
  issues: IssueCollector;
  columns: string[];
  header?: boolean;
  task: TaskKind | null;
  mapping: FieldMapping;
  rows: number;
  validRows: number;
  labelCounts: Record<string, number>;
  preview: PreviewRow[];
  lengths: TokenLengthStats;
  tooLong: number;
  complete: boolean;
  sha256: string | null;
  unreadable?: ApiError;
  opts: ScanOptions;
}

export function finishInspect(s: ScanState): InspectResult {
  const { issues, file } = s;
  const fallback = s.opened.fallback();
  if (fallback) {
    const message = fallback.afterUtf8
      ? `invalid UTF-8 at byte ${fallback.byteOffset} after valid UTF-8 text: read from there on as Windows-1252 (mixed encodings?)`
      : `not UTF-8 (first non-UTF-8 byte on line ${fallback.line}): read as Windows-1252`;
    issues.warning('encoding', file, message, { line: fallback.line });
  }
  if (s.unreadable) issues.error('unreadable', file, s.unreadable.message, { line: s.unreadable.line });
  else if (s.rows === 0) issues.error('no_rows', file, noRowsMessage(s), { line: 1 });
  issues.sort();
  const status = s.unreadable ? 'unreadable' : issues.errorTotal > 0 ? 'invalid' : 'valid';
  const result: InspectResult = {
    file,
    format: s.opened.format,
    encoding: s.opened.encoding(),
    bom: s.opened.sniff.bom !== null,
    rows: s.rows,
    validRows: s.validRows,
    task: s.task,
    mapping: s.mapping,
    fields: s.columns,
    labels: sortedCounts(s.labelCounts),
    errors: issues.errors,
    errorCounts: { ...issues.errorCounts },
    warnings: issues.warnings,
    warningCounts: { ...issues.warningCounts },
    preview: s.preview,
    status,
    exitCode: status === 'valid' ? 0 : status === 'invalid' ? 1 : 2,
    complete: s.complete,
    sha256: s.sha256,
    bytes: s.opened.sniff.bytes,
  };
  const tokenLengths = s.lengths.summary();
  if (tokenLengths) result.tokenLengths = tokenLengths;
  if (s.opts.tokenizer && s.opts.contextLength !== undefined) {
    result.truncation = { contextLength: s.opts.contextLength, rule: s.opts.truncation ?? 'left', count: s.tooLong };
  }
  if (s.header !== undefined && (s.opened.format === 'csv' || s.opened.format === 'tsv')) result.header = s.header;
  if (s.opened.delimiter) result.delimiter = s.opened.delimiter;
  if (s.opened.textMode) result.textMode = s.opened.textMode;
  return result;
}

function noRowsMessage(s: ScanState): string {
  if (s.opened.sniff.bytes === 0) return 'the file is empty';
  if (s.header) return `only a header row (${listColumns(s.columns)}); no data rows`;
  return 'no records found';
}

/** Labels in natural order ("2" before "10"). */
function sortedCounts(counts: Record<string, number>): Record<string, number> {
  const keys = Object.keys(counts).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return Object.fromEntries(keys.map((k) => [k, counts[k]]));
}

/** The result for a file that cannot be read at all (missing, binary, not Parquet): exit code 2. */
export function unreadableResult(file: string, err: ApiError): InspectResult {
  const error = { kind: 'unreadable' as const, severity: 'error' as const, file, message: err.message };
  return {
    file,
    format: null,
    encoding: null,
    bom: false,
    rows: 0,
    validRows: 0,
    task: null,
    mapping: {},
    fields: [],
    labels: {},
    errors: [error],
    errorCounts: { unreadable: 1 },
    warnings: [],
    warningCounts: {},
    preview: [],
    status: 'unreadable',
    exitCode: 2,
    complete: false,
    sha256: null,
    bytes: 0,
  };
}
