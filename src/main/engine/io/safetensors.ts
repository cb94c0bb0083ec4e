// Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw data).
// The reader validates the whole header up front, then reads one tensor at a time through a file
// descriptor so a large checkpoint is never held in memory twice.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ApiError } from '@shared/errors';
import { injectedWriteFault } from '../../platform/atomic-write';
import { openRegularFile } from './bounded-read';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

/** Headers above this size are not plausible (real ones are a few hundred KB) and would cost memory. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
}

export interface ReadTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Floating dtypes arrive as Float32Array, integer dtypes as Int32Array (I64 checked to fit). */
  data: Float32Array | Int32Array;
}

export class SafetensorsReader {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  private fd: number | null;
  private readonly dataStart: number;

  private constructor(
    readonly path: string,
    fd: number,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
    dataStart: number,
  ) {
    this.fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  /** Opens and validates `path`; throws ApiError('bad_file') naming the file (and tensor) on any defect. */
  static open(path: string): SafetensorsReader {
    // Regular files only: a FIFO would block the open and read forever, /dev/zero never ends.
    const { fd } = openRegularFile(path);
    try {
      const { tensors, metadata, dataStart } = parseHeader(fd, path);
      return new SafetensorsReader(path, fd, tensors, metadata, dataStart);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Reads one tensor, converting F16/BF16 to float32. */
  read(name: string): ReadTensor {
    const info = this.tensors.get(name);
    if (!info) throw new ApiError('bad_file', `tensor ${name} is not in this file`, { file: this.path, field: name });
    if (this.fd === null) throw new ApiError('internal', 'safetensors reader is closed', { file: this.path });
    const count = info.shape.reduce((a, b) => a * b, 1);
    const position = this.dataStart + info.begin;
    switch (info.dtype) {
      case 'F32': {
        const data = new Float32Array(count);
        readFully(this.fd, new Uint8Array(data.buffer), position, this.path);
        return { dtype: info.dtype, shape: info.shape, data };
      }
      case 'F16':
      case 'BF16': {
        const half = new Uint16Array(count);
        readFully(this.fd, new Uint8Array(half.buffer), position, this.path);
        return { dtype: info.dtype, shape: info.shape, data: info.dtype === 'F16' ? f16ToF32(half) : bf16ToF32(half) };
      }
      case 'I32': {
        const data = new Int32Array(count);
        readFully(this.fd, new Uint8Array(data.buffer), position, this.path);
        return { dtype: info.dtype, shape: info.shape, data };
      }
      case 'I64': {
        const wide = new BigInt64Array(count);
        readFully(this.fd, new Uint8Array(wide.buffer), position, this.path);
        const data = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const v = wide[i];
          if (v > 2147483647n || v < -2147483648n) {
            throw new ApiError('unsupported', `I64 tensor ${name} holds values outside the int32 range`, { file: this.path, field: name });
          }
          data[i] = Number(v);
        }
        return { dtype: info.dtype, shape: info.shape, data };
      }
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.byteLength) {
    // readSync moves at most 2 GiB per call.
    const chunk = Math.min(target.byteLength - done, 1 << 30);
    const n = readSync(fd, target, done, chunk, position + done);
    if (n === 0) throw new ApiError('bad_file', 'file ends before the tensor data does (truncated?)', { file: path });
    done += n;
  }
}

function parseHeader(fd: number, path: string): { tensors: Map<string, TensorInfo>; metadata: Record<string, string>; dataStart: number } {
  const fileSize = fstatSync(fd).size;
  const bad = (message: string, field?: string): ApiError => new ApiError('bad_file', `invalid safetensors file: ${message}`, { file: path, field });
  if (fileSize < 8) throw bad(`file is ${fileSize} bytes, too short for a header`);
  const lengthBytes = Buffer.alloc(8);
  readSync(fd, lengthBytes, 0, 8, 0);
  const headerLength = lengthBytes.readBigUInt64LE(0);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    throw bad(`header length ${headerLength} does not fit in the file (${fileSize} bytes; truncated or corrupt?)`);
  }
  const headerBytes = Buffer.alloc(Number(headerLength));
  readFully(fd, headerBytes, 8, path);
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch (err) {
    throw bad(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + Number(headerLength);
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!entry || typeof entry !== 'object') throw bad(`entry for tensor ${name} is not an object`, name);
    const dtype = entry.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw bad(`tensor ${name} has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`, name);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}`, name);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
      throw bad(`tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`, name);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expectedBytes) {
      throw bad(`tensor ${name} of shape [${shape.join(', ')}] ${dtype} needs ${expectedBytes} bytes but its data_offsets span ${end - begin}`, name);
    }
    if (end > dataSize) throw bad(`tensor ${name} data ends at byte ${end} but the data section has ${dataSize} bytes (truncated?)`, name);
    tensors.set(name, { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  return { tensors, metadata, dataStart };
}

// ---- half-precision conversion ----

function bf16ToF32(half: Uint16Array): Float32Array {
  // bf16 is the top half of a float32: shift into place.
  const bits = new Uint32Array(half.length);
  for (let i = 0; i < half.length; i++) bits[i] = half[i] << 16;
  return new Float32Array(bits.buffer);
}

function f16ToF32(half: Uint16Array): Float32Array {
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) {
    const h = half[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0)
      out[i] = sign * fraction * 2 ** -24; // subnormal
    else if (exponent === 31) out[i] = fraction ? NaN : sign * Infinity;
    else out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

// ---- writer ----

export interface F32Tensor {
  dtype: 'F32';
  shape: number[];
  data: Float32Array;
}

/**
 * A float32 tensor whose values are read only when the writer reaches it, so a writer holds one tensor's values
 * at a time (full fine-tuning's weights and moments would otherwise all sit in memory at once: 3.2 GB on
 * Gemma-3-270M, on top of the tensors themselves).
 */
export interface F32Source {
  shape: number[];
  read(): Float32Array;
}

/**
 * Writes tensors as safetensors atomically: a temp file beside `path` is written, fsynced and renamed
 * over `path`, so readers never see a half-written file.
 */
export function writeSafetensors(path: string, tensors: Record<string, F32Tensor>, metadata?: Record<string, string>): void {
  // Checked before anything is written: a bad tensor leaves no file behind and names itself.
  for (const [name, t] of Object.entries(tensors)) checkLength(name, t.shape, t.data.length);
  writeSafetensorsFrom(path, sourcesOf(tensors), metadata);
}

/** Tensors already in memory as sources for writeSafetensorsFrom. */
export function sourcesOf(tensors: Record<string, { shape: number[]; data: Float32Array }>): Record<string, F32Source> {
  const sources: Record<string, F32Source> = {};
  for (const [name, { shape, data }] of Object.entries(tensors)) sources[name] = { shape, read: () => data };
  return sources;
}

/** writeSafetensors with each tensor's values read as it is written (same bytes, same atomicity). */
export function writeSafetensorsFrom(path: string, tensors: Record<string, F32Source>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = elementCount(t.shape) * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerJson = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference implementation does.
  headerJson += ' '.repeat((8 - (Buffer.byteLength(headerJson) % 8)) % 8);
  const headerBytes = Buffer.from(headerJson, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const tempPath = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tempPath, 'w');
  try {
    writeAll(fd, lengthBytes);
    writeAll(fd, headerBytes);
    const fault = injectedWriteFault(path);
    if (fault) throw fault;
    for (const [name, t] of Object.entries(tensors)) {
      const data = t.read();
      checkLength(name, t.shape, data.length);
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tempPath, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tempPath, { force: true });
    throw err;
  }
  syncDirectory(dirname(path));
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkLength(name: string, shape: number[], length: number): void {
  const count = elementCount(shape);
  if (count !== length) {
    throw new ApiError('invalid_argument', `tensor ${name}: shape [${shape.join(', ')}] holds ${count} values but data has ${length}`, { field: name });
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

function syncDirectory(dir: string): void {
  // Makes the rename durable; not possible on every platform (Windows), so best effort.
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // ignore
  }
}
