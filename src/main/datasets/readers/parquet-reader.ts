// Parquet via hyparquet, one row group (or slice of one) at a time so memory follows the group size,
// not the file size. Row numbers stand in for line numbers.
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { Compressors } from 'hyparquet';
import { compressors as extraCodecs } from 'hyparquet-compressors';
import { ApiError } from '@shared/errors';
import { throwIfAborted } from '../encoding/read-text-file';
import type { ReaderEvent } from './reader-events';

const SLICE_ROWS = 20_000;

// hyparquet-compressors adds the codecs hyparquet lacks (zstd — polars' default —, lz4, and a faster snappy);
// node's zlib still does gzip and brotli, natively. LZO remains unsupported (pyarrow cannot write it either).
const COMPRESSORS: Compressors = {
  ...extraCodecs,
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};

export interface ParquetReadOptions {
  signal?: AbortSignal;
  /** Rows done / rows in the file, after each slice. */
  onRows?: (done: number, total: number) => void;
}

export async function* readParquet(path: string, opts: ParquetReadOptions = {}): AsyncGenerator<ReaderEvent> {
  const file = await asyncBufferFromFile(path);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new ApiError('bad_file', `not a readable Parquet file: ${decoderMessage(err)}`, { file: path });
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  yield { type: 'columns', columns, header: true };
  const total = Number(metadata.num_rows);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = rowStart + Number(group.num_rows);
    for (let start = rowStart; start < groupEnd; start += SLICE_ROWS) {
      throwIfAborted(opts.signal);
      const end = Math.min(groupEnd, start + SLICE_ROWS);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end, compressors: COMPRESSORS });
      } catch (err) {
        throw new ApiError('bad_file', `cannot decode Parquet rows ${start + 1}–${end}: ${decoderMessage(err)}`, { file: path, line: start + 1 });
      }
      for (let i = 0; i < rows.length; i++) {
        const ordinal = start + i + 1;
        yield { type: 'row', row: { ordinal, line: ordinal, values: plainValues(rows[i]) } };
      }
      opts.onRows?.(end, total);
    }
    rowStart = groupEnd;
  }
}

/**
 * hyparquet's own errors say what is wrong with the file; a TypeError/RangeError is the engine tripping over
 * corrupt bytes ("Invalid typed array length: 34"), which means nothing to a person.
 */
function decoderMessage(err: unknown): string {
  if (err instanceof TypeError || err instanceof RangeError || !(err instanceof Error)) return 'the file is corrupt or truncated (its metadata or column data cannot be decoded)';
  return err.message;
}

/** INT64 columns decode to bigint, which JSON cannot hold: numbers when exact, strings otherwise. */
function plainValues(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, plain(value)]));
}

function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) return plainValues(value as Record<string, unknown>);
  return value;
}
