// Opens any supported dataset file as one stream of reader events: sniff, choose the reader, decode.
// `iterateRows` is the public row iterator (previews stop it early; the rest of the file is never read).
import type { DatasetFormat, TextEncoding } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { decodeHead, readByteChunks, TextFileReader } from '../encoding/read-text-file';
import { sniffFile, type FileSniff } from '../encoding/sniff-file';
import type { EncodingFallback } from '../encoding/text-decoder';
import { readDelimited } from './delimited-reader';
import { detectFormat, type Delimiter } from './detect-format';
import { readJsonDocument } from './json-reader';
import { readJsonl } from './jsonl-reader';
import { readParquet } from './parquet-reader';
import type { RawRow, ReaderEvent, ReaderIssue } from './reader-events';
import { readText, type TextMode } from './text-reader';
import { readTrec } from './trec-reader';

export interface OpenOptions {
  format?: DatasetFormat;
  header?: boolean;
  textMode?: TextMode;
  signal?: AbortSignal;
  /** Every raw byte of the file, in order (for hashing). */
  onChunk?: (chunk: Buffer) => void;
  /** Bytes consumed so far (Parquet: estimated from rows decoded). */
  onProgress?: (bytesRead: number) => void;
}

export interface OpenedDataset {
  path: string;
  sniff: FileSniff;
  format: DatasetFormat;
  delimiter?: Delimiter;
  textMode?: TextMode;
  events: AsyncGenerator<ReaderEvent>;
  /** Final once `events` is exhausted (the UTF-8 → Windows-1252 switch may happen late in the file). */
  encoding(): TextEncoding;
  fallback(): EncodingFallback | undefined;
}

/** Throws ApiError not_found, or bad_file for binary and non-Parquet `.parquet` files. */
export async function openDataset(path: string, opts: OpenOptions = {}): Promise<OpenedDataset> {
  const sniff = await sniffFile(path);
  if (sniff.binaryKind) throw new ApiError('bad_file', `cannot read ${path}: it looks like ${sniff.binaryKind}, not a text dataset`, { file: path });
  const choice = detectFormat(path, sniff, sniff.isParquet ? '' : decodeHead(sniff), opts);
  const base = { path, sniff, ...choice };
  if (choice.format === 'parquet') {
    const events = readParquet(path, {
      signal: opts.signal,
      onRows: (done, total) => opts.onProgress?.(Math.round((done / Math.max(total, 1)) * sniff.bytes)),
    });
    return { ...base, events: withHash(events, path, opts), encoding: () => 'utf-8', fallback: () => undefined };
  }
  const onBytes = (chunk: Buffer, bytesRead: number): void => {
    opts.onChunk?.(chunk);
    opts.onProgress?.(bytesRead);
  };
  const text = new TextFileReader(path, sniff, { signal: opts.signal, onBytes });
  const chunks = text.chunks();
  let events: AsyncGenerator<ReaderEvent>;
  switch (choice.format) {
    case 'jsonl':
      events = readJsonl(chunks);
      break;
    case 'json':
      events = readJsonDocument(chunks);
      break;
    case 'csv':
    case 'tsv':
      events = readDelimited(chunks, { delimiter: choice.delimiter ?? (choice.format === 'tsv' ? '\t' : ','), header: opts.header });
      break;
    case 'trec':
      events = readTrec(chunks);
      break;
    default:
      events = readText(chunks, choice.textMode ?? 'lines');
  }
  return { ...base, events, encoding: () => text.encoding, fallback: () => text.fallback };
}

/** Parquet is read by byte ranges, so its bytes reach onChunk in a separate sequential pass at the end. */
async function* withHash(events: AsyncGenerator<ReaderEvent>, path: string, opts: OpenOptions): AsyncGenerator<ReaderEvent> {
  yield* events;
  if (!opts.onChunk) return;
  for await (const chunk of readByteChunks(path, { signal: opts.signal })) opts.onChunk(chunk);
}

export type RowOrIssue = { row: RawRow; issue?: undefined } | { row?: undefined; issue: ReaderIssue };

/** Rows (and parse problems) of a file, in file order, as they are read. */
export async function* iterateRows(path: string, opts: OpenOptions = {}): AsyncGenerator<RowOrIssue> {
  const opened = await openDataset(path, opts);
  for await (const event of opened.events) {
    if (event.type === 'row') yield { row: event.row };
    else if (event.type === 'issue') yield { issue: event.issue };
  }
}
