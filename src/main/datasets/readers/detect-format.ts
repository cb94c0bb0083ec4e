// Which reader a file needs: the extension first, then the content of its first 64 KiB (for TREC's
// .train/.test, .json files that are really JSON Lines, and extension-less files).
import { extname } from 'node:path';
import type { DatasetFormat } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import type { FileSniff } from '../encoding/sniff-file';
import type { TextMode } from './text-reader';
import { TREC_LINE } from './trec-reader';

export type Delimiter = ',' | '\t' | ';' | '|';

export interface FormatChoice {
  format: DatasetFormat;
  delimiter?: Delimiter;
  textMode?: TextMode;
}

export interface FormatOverrides {
  format?: DatasetFormat;
  textMode?: TextMode;
}

export function detectFormat(path: string, sniff: FileSniff, head: string, overrides: FormatOverrides = {}): FormatChoice {
  const lines = completeLines(head, sniff.head.length < sniff.bytes);
  const format = overrides.format ?? formatOf(path, sniff, head, lines);
  if (format === 'parquet' && !sniff.isParquet) {
    throw new ApiError('bad_file', 'not a Parquet file (it does not start with PAR1)', { file: path });
  }
  if (format === 'csv') return { format, delimiter: sniffCsvDelimiter(lines) };
  if (format === 'tsv') return { format, delimiter: '\t' };
  if (format === 'text') return { format, textMode: overrides.textMode ?? textModeOf(lines) };
  return { format };
}

function formatOf(path: string, sniff: FileSniff, head: string, lines: string[]): DatasetFormat {
  if (sniff.isParquet) return 'parquet';
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.jsonl':
    case '.ndjson':
      return 'jsonl';
    case '.json':
      return looksLikeJsonl(lines) ? 'jsonl' : 'json';
    case '.csv':
      return 'csv';
    case '.tsv':
    case '.tab':
      return 'tsv';
    case '.parquet':
    case '.pq':
      return 'parquet';
    case '.txt':
    case '.text':
      return looksLikeTrec(lines) ? 'trec' : 'text';
    default:
  }
  const first = head.trimStart()[0];
  if (first === '[') return 'json';
  if (first === '{') return looksLikeJsonl(lines) ? 'jsonl' : 'json';
  if (looksLikeTrec(lines)) return 'trec';
  if (consistentCount(lines, '\t')) return 'tsv';
  if (consistentCount(lines, ',')) return 'csv';
  return 'text';
}

/** Lines of the head, without a last one the 64 KiB cut may have split. */
function completeLines(head: string, truncated: boolean): string[] {
  const lines = head.split('\n');
  if (truncated && lines.length > 1) lines.pop();
  return lines;
}

function nonBlank(lines: string[], max = 50): string[] {
  return lines.filter((l) => l.trim() !== '').slice(0, max);
}

function looksLikeJsonl(lines: string[]): boolean {
  const sample = nonBlank(lines, 2);
  if (sample.length === 0) return false;
  try {
    const value = JSON.parse(sample[0]);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  } catch {
    return false;
  }
  return sample.length === 1 || sample[1].trimStart().startsWith('{');
}

function looksLikeTrec(lines: string[]): boolean {
  const sample = nonBlank(lines);
  if (sample.length === 0) return false;
  return sample.filter((l) => TREC_LINE.test(l) && /^[A-Z]+:[A-Za-z]+\s/.test(l)).length >= 0.9 * sample.length;
}

/** Every sampled line has the same, non-zero number of `sep` (quotes ignored: a rough first guess). */
function consistentCount(lines: string[], sep: string): boolean {
  const sample = nonBlank(lines, 20);
  if (sample.length < 2) return sample.length === 1 && sample[0].includes(sep);
  const counts = sample.map((l) => l.split(sep).length - 1);
  return counts[0] > 0 && counts.filter((c) => c === counts[0]).length >= 0.8 * counts.length;
}

function sniffCsvDelimiter(lines: string[]): Delimiter {
  for (const candidate of [',', ';', '\t', '|'] as const) if (consistentCount(lines, candidate)) return candidate;
  return ',';
}

/** Documents when blank lines are common (≥ 10% of lines): prose paragraphs, not one example per line. */
function textModeOf(lines: string[]): TextMode {
  const sample = lines.slice(0, 2000);
  while (sample.length > 0 && sample[sample.length - 1].trim() === '') sample.pop();
  const blanks = sample.filter((l) => l.trim() === '').length;
  return blanks >= 2 && blanks >= 0.1 * sample.length ? 'documents' : 'lines';
}
