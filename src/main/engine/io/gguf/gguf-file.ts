// Reads a GGUF file's header: version, metadata and tensor table (v2 and v3, little-endian), with
// @huggingface/gguf doing the parsing. The result is a plain structure with absolute byte ranges, checked
// against the file: every tensor's type is known, its shape a whole number of blocks, its data inside the file.
// Tensor data is read later, one tensor at a time (read-tensor.ts).
import { closeSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { ApiError } from '@shared/errors';
import { openRegularFile } from '../bounded-read';
import { ggmlTypeById } from './ggml-types';

export type GgufValue = string | number | bigint | boolean | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: ne0 (the contiguous, blocked dimension) first. */
  shape: number[];
  /** GGML type name, e.g. 'Q4_K'. */
  type: string;
  typeId: number;
  elements: number;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface GgufFile {
  path: string;
  /** File size in bytes when the header was read. */
  size: number;
  version: 2 | 3;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  /** Key/value metadata; 64-bit integers become numbers where they are safe integers, else stay bigint. */
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
}

/** What @huggingface/gguf buffers for the header at most (its HTTP_TOTAL_MAX_SIZE); larger headers fail there. */
const HEADER_LIMIT_MB = 50;

/** Opens and validates `path`; throws one ApiError naming the file (and tensor) on any defect. */
export async function readGgufFile(path: string): Promise<GgufFile> {
  const { fd, size } = openRegularFile(path);
  const bad = (message: string, field?: string): ApiError => new ApiError('bad_file', `invalid GGUF file: ${message}`, { file: path, field });
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    // The parser fetches 2 MB ranges of a URL; a fetch served from our already-opened descriptor keeps every
    // read on the one regular file checked above (no second open of a path that may have been swapped).
    // The .invalid URL is only a label: it is never resolved.
    parsed = await gguf(`http://gguf.invalid/${encodeURIComponent(basename(path))}`, { fetch: descriptorFetch(fd, size, path) });
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof RangeError) throw bad(`its header (metadata and tensor table) is larger than the ${HEADER_LIMIT_MB} MB the parser reads`);
    throw bad((err as Error).message);
  } finally {
    closeSync(fd);
  }

  const version = parsed.metadata.version;
  if (version !== 2 && version !== 3) throw new ApiError('unsupported', `GGUF version ${version} is not supported (versions 2 and 3 are)`, { file: path });
  if (!parsed.littleEndian) throw new ApiError('unsupported', 'big-endian GGUF files are not supported', { file: path });
  // The parser zero-fills reads past the end of a file, so a header cut short "parses"; its end tells.
  const headerEnd = parsed.tensorInfoByteRange[1];
  if (headerEnd > size) throw bad(`the file (${size} bytes) ends inside its header, which runs to byte ${headerEnd} (truncated?)`);

  const metadata: Record<string, GgufValue> = {};
  for (const [key, value] of Object.entries(parsed.metadata)) {
    if (key === 'version' || key === 'tensor_count' || key === 'kv_count') continue;
    metadata[key] = plainValue(value as GgufValue);
  }
  const alignment = typeof metadata['general.alignment'] === 'number' ? metadata['general.alignment'] : 32;
  // ggml pads with a bit mask, so only powers of two are valid.
  if (!Number.isSafeInteger(alignment) || alignment < 1 || !Number.isInteger(Math.log2(alignment))) {
    throw bad(`general.alignment is ${alignment}, not a power of two`, 'general.alignment');
  }
  const dataOffset = Number(parsed.tensorDataOffset);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (const info of parsed.tensorInfos) {
    const { name } = info;
    if (names.has(name)) throw bad(`tensor ${name} appears twice in the tensor table`, name);
    names.add(name);
    const type = ggmlTypeById(info.dtype);
    if (!type) throw new ApiError('unsupported', `tensor ${name} has GGML type id ${info.dtype}, which is not a known type`, { file: path, field: name });
    const shape = info.shape.map(Number);
    const elements = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elements)) throw bad(`tensor ${name} has an implausible shape [${shape.join(', ')}]`, name);
    if (shape.length > 0 && shape[0] % type.blockSize !== 0) {
      throw bad(`tensor ${name} (${type.name}) has rows of ${shape[0]} values, not a multiple of its ${type.blockSize}-value block`, name);
    }
    if (shape.length === 0 && type.blockSize !== 1) throw bad(`tensor ${name} (${type.name}) is a scalar but its type stores ${type.blockSize}-value blocks`, name);
    if (info.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`tensor ${name} has an implausible data offset ${info.offset}`, name);
    const relative = Number(info.offset);
    if (relative % alignment !== 0) throw bad(`tensor ${name} data offset ${relative} is not a multiple of the alignment ${alignment}`, name);
    tensors.push({
      name,
      shape,
      type: type.name,
      typeId: type.id,
      elements,
      offset: dataOffset + relative,
      byteLength: (elements / type.blockSize) * type.typeSize,
    });
  }
  const pastEnd = tensors.filter((t) => t.offset + t.byteLength > size);
  if (pastEnd.length > 0) {
    const first = pastEnd[0];
    const more = pastEnd.length > 1 ? ` (and ${pastEnd.length - 1} more tensors)` : '';
    throw bad(
      `tensor ${first.name}'s data (bytes ${first.offset}–${first.offset + first.byteLength}) runs past the end of the file (${size} bytes)${more}; truncated?`,
      first.name,
    );
  }
  return { path, size, version, alignment, dataOffset, metadata, tensors };
}

/** bigint → number where it is a safe integer, recursively through arrays. */
function plainValue(value: GgufValue): GgufValue {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (Array.isArray(value)) return value.some((v) => typeof v === 'bigint' || Array.isArray(v)) ? value.map(plainValue) : value;
  return value;
}

/** A fetch that answers the parser's `Range: bytes=a-b` requests from `fd` (clamped to the file). */
export function descriptorFetch(fd: number, size: number, path: string): typeof fetch {
  return (async (_input: unknown, init?: RequestInit) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(new Headers(init?.headers).get('range') ?? '');
    if (!range) throw new ApiError('internal', 'GGUF parser asked for something other than a byte range', { file: path });
    const start = Math.min(Number(range[1]), size);
    const end = Math.min(Number(range[2]) + 1, size);
    const body = new Uint8Array(end - start);
    let done = 0;
    while (done < body.length) {
      const n = readSync(fd, body, done, body.length - done, start + done);
      if (n === 0) break; // shrank while we read: the header checks above catch what is missing
      done += n;
    }
    return new Response(body.subarray(0, done), { status: 206, headers: { 'content-range': `bytes ${start}-${end - 1}/${size}` } });
  }) as typeof fetch;
}
