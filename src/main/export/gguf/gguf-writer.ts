// Writes a GGUF v3 file (ggml docs/gguf.md): header and metadata, tensor table, then each tensor's data at a
// 32-byte aligned offset. The file is streamed tensor by tensor (each tensor's bytes are asked for only when
// they are written, so a model never sits in memory whole) into a temp file beside the target, fsynced and
// renamed over it: a reader sees the old file or the complete new one.
//
// The metadata bytes come from @huggingface/gguf's serializeGgufMetadata. It pads its output to the
// alignment as if the tensor table were empty, which is wrong for a file with tensors (the padding belongs
// after the table), so it is called with alignment 1 (no padding) and we write the table and pad ourselves.
import { serializeGgufMetadata, type GGUFTypedMetadata } from '@huggingface/gguf';
import { writeAtomicWith } from '../../platform/atomic-write';
import { ggmlTypeByName } from '../../engine/io/gguf/ggml-types';

export const GGUF_ALIGNMENT = 32;

/** GGUF metadata value types (gguf.md's gguf_metadata_value_type). */
const VALUE_TYPE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

export type GgufScalarType = Exclude<keyof typeof VALUE_TYPE, 'array'>;
export type GgufMetadataType = GgufScalarType | `${GgufScalarType}[]`;
export type GgufMetadataValue = string | number | bigint | boolean | (string | number | bigint | boolean)[];

export interface GgufMetadataEntry {
  key: string;
  /** Scalar type, or `TYPE[]` for an array of that type. 64-bit integers take a bigint (or a safe integer). */
  type: GgufMetadataType;
  value: GgufMetadataValue;
}

export type GgufWriteTensorType = 'F32' | 'F16' | 'Q8_0';

export interface GgufWriteTensor {
  name: string;
  type: GgufWriteTensorType;
  /** GGUF order: ne0 (the contiguous dimension) first. */
  shape: number[];
  /** The tensor's bytes in `type`'s encoding, asked for once, when it is written. */
  data: () => Uint8Array | Promise<Uint8Array>;
}

export interface GgufWriteSpec {
  metadata: GgufMetadataEntry[];
  tensors: GgufWriteTensor[];
}

/** Writes `spec` to `path` atomically; throws (leaving no temp file) on a bad spec or a failed write. */
export async function writeGguf(path: string, spec: GgufWriteSpec): Promise<void> {
  const infos = tensorTable(spec.tensors);
  const header = concat([metadataBytes(spec.metadata, spec.tensors.length), tensorInfoBytes(infos)]);
  await writeAtomicWith(path, async (handle, fault) => {
    if (fault) {
      await handle.write(header.subarray(0, header.length >> 1));
      throw fault;
    }
    let at = 0;
    const put = async (bytes: Uint8Array): Promise<void> => {
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, at + done);
        done += bytesWritten;
      }
      at += bytes.length;
    };
    await put(header);
    await put(new Uint8Array(pad(at) - at));
    const dataStart = at;
    for (const info of infos) {
      const bytes = await info.tensor.data();
      if (!(bytes instanceof Uint8Array) || bytes.length !== info.byteLength) {
        throw new Error(`GGUF tensor ${info.tensor.name}: ${info.tensor.type} [${info.tensor.shape.join(', ')}] takes ${info.byteLength} bytes, but its data has ${bytes?.length}`);
      }
      if (at - dataStart !== info.offset) throw new Error(`GGUF writer: tensor ${info.tensor.name} landed at ${at - dataStart}, not ${info.offset}`);
      await put(bytes);
      await put(new Uint8Array(pad(at - dataStart) - (at - dataStart)));
    }
  });
}

interface TensorPlacement {
  tensor: GgufWriteTensor;
  byteLength: number;
  /** Relative to the start of the data section. */
  offset: number;
}

function pad(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}

function tensorTable(tensors: GgufWriteTensor[]): TensorPlacement[] {
  const names = new Set<string>();
  let offset = 0;
  return tensors.map((tensor) => {
    const type = ggmlTypeByName(tensor.type);
    if (!type || !['F32', 'F16', 'Q8_0'].includes(tensor.type)) throw new Error(`GGUF tensor ${tensor.name}: type ${tensor.type} cannot be written`);
    if (names.has(tensor.name)) throw new Error(`GGUF tensor ${tensor.name} is given twice`);
    names.add(tensor.name);
    // llama.cpp's gguf reader refuses names of 64 bytes or more (GGML_MAX_NAME).
    if (new TextEncoder().encode(tensor.name).length >= 64) throw new Error(`GGUF tensor name ${tensor.name} is 64 bytes or longer`);
    if (tensor.shape.length < 1 || tensor.shape.length > 4 || tensor.shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
      throw new Error(`GGUF tensor ${tensor.name}: shape [${tensor.shape.join(', ')}] is not 1 to 4 positive dimensions`);
    }
    if (tensor.shape[0] % type.blockSize !== 0) {
      throw new Error(`GGUF tensor ${tensor.name}: ${tensor.type} needs rows (ne0 = ${tensor.shape[0]}) in whole ${type.blockSize}-value blocks`);
    }
    const elements = tensor.shape.reduce((a, b) => a * b, 1);
    const byteLength = (elements / type.blockSize) * type.typeSize;
    const placed = { tensor, byteLength, offset };
    offset = pad(offset + byteLength);
    return placed;
  });
}

function metadataBytes(entries: GgufMetadataEntry[], tensorCount: number): Uint8Array {
  const typed: Record<string, { value: unknown; type: number; subType?: number }> = {
    version: { value: 3, type: VALUE_TYPE.u32 },
    tensor_count: { value: BigInt(tensorCount), type: VALUE_TYPE.u64 },
    kv_count: { value: BigInt(entries.length), type: VALUE_TYPE.u64 },
  };
  for (const entry of entries) {
    if (entry.key in typed) throw new Error(`GGUF metadata key ${entry.key} is given twice (or is reserved)`);
    const isArray = entry.type.endsWith('[]');
    const scalar = (isArray ? entry.type.slice(0, -2) : entry.type) as GgufScalarType;
    if (!(scalar in VALUE_TYPE) || (scalar as string) === 'array') throw new Error(`GGUF metadata ${entry.key}: unknown type ${entry.type}`);
    if (isArray !== Array.isArray(entry.value)) throw new Error(`GGUF metadata ${entry.key}: type ${entry.type} does not match its value`);
    const value = isArray ? (entry.value as unknown[]).map((v) => scalarValue(entry.key, scalar, v)) : scalarValue(entry.key, scalar, entry.value);
    typed[entry.key] = isArray ? { value, type: VALUE_TYPE.array, subType: VALUE_TYPE[scalar] } : { value, type: VALUE_TYPE[scalar] };
  }
  return serializeGgufMetadata(typed as unknown as GGUFTypedMetadata, { littleEndian: true, alignment: 1 });
}

/** Checks one value against its type; 64-bit integers become bigint, as the serializer's DataView needs. */
function scalarValue(key: string, type: GgufScalarType, value: unknown): unknown {
  const bad = (): Error => new Error(`GGUF metadata ${key}: ${String(value)} is not a valid ${type}`);
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw bad();
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw bad();
      return value;
    case 'f32':
    case 'f64':
      if (typeof value !== 'number') throw bad();
      return value;
    case 'u64':
    case 'i64': {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) throw bad();
      if (typeof value !== 'number' && typeof value !== 'bigint') throw bad();
      const big = BigInt(value);
      if (type === 'u64' ? big < 0n || big >= 2n ** 64n : big < -(2n ** 63n) || big >= 2n ** 63n) throw bad();
      return big;
    }
    default: {
      const bits = { u8: 8, i8: 8, u16: 16, i16: 16, u32: 32, i32: 32 }[type];
      const signed = type.startsWith('i');
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
      const lo = signed ? -(2 ** (bits - 1)) : 0;
      const hi = signed ? 2 ** (bits - 1) : 2 ** bits;
      if (value < lo || value >= hi) throw bad();
      return value;
    }
  }
}

function tensorInfoBytes(infos: TensorPlacement[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const { tensor, offset } of infos) {
    const name = enc.encode(tensor.name);
    const b = new Uint8Array(8 + name.length + 4 + 8 * tensor.shape.length + 4 + 8);
    const view = new DataView(b.buffer);
    let p = 0;
    view.setBigUint64(p, BigInt(name.length), true);
    p += 8;
    b.set(name, p);
    p += name.length;
    view.setUint32(p, tensor.shape.length, true);
    p += 4;
    for (const d of tensor.shape) {
      view.setBigUint64(p, BigInt(d), true);
      p += 8;
    }
    view.setUint32(p, ggmlTypeByName(tensor.type)!.id, true);
    p += 4;
    view.setBigUint64(p, BigInt(offset), true);
    parts.push(b);
  }
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- tensor encodings ----

/** float32 values as little-endian F32 bytes (a view when the platform is little-endian, as every supported one is). */
export function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
