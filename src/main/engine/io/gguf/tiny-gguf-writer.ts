// Writes small GGUF files byte by byte, for tests: the reader must be checked on files whose every field we
// choose (versions, odd types, truncation), which no real model offers. Layout per the GGUF spec (ggml docs/gguf.md).

export type TinyValue =
  | { type: 'u8'; value: number }
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'u64'; value: bigint }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: number[] }
  | { type: 'f32[]'; value: number[] }
  | { type: 'u64[]'; value: bigint[] };

export interface TinyTensor {
  name: string;
  /** GGUF order, ne0 first. */
  shape: number[];
  typeId: number;
  data: Uint8Array;
}

export interface TinyGguf {
  version?: 1 | 2 | 3;
  metadata?: Record<string, TinyValue>;
  tensors?: TinyTensor[];
  /** Data alignment; also written as general.alignment when not 32. */
  alignment?: number;
}

const VALUE_TYPE = { u8: 0, i32: 5, u32: 4, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

class Bytes {
  private chunks: number[] = [];
  constructor(private readonly version: 1 | 2 | 3) {}
  get length(): number {
    return this.chunks.length;
  }
  u8(v: number): void {
    this.chunks.push(v & 0xff);
  }
  raw(b: Uint8Array): void {
    for (const x of b) this.chunks.push(x);
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, true);
    this.raw(b);
  }
  i32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.raw(b);
  }
  f32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
  }
  u64(v: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, true);
    this.raw(b);
  }
  /** A count or length: 32-bit in version 1, 64-bit since version 2. */
  size(v: number): void {
    if (this.version === 1) this.u32(v);
    else this.u64(BigInt(v));
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.size(b.length);
    this.raw(b);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export function writeTinyGguf(spec: TinyGguf): Uint8Array {
  const version = spec.version ?? 3;
  const alignment = spec.alignment ?? 32;
  const tensors = spec.tensors ?? [];
  const metadata: Record<string, TinyValue> = { ...(spec.metadata ?? {}) };
  if (alignment !== 32) metadata['general.alignment'] = { type: 'u32', value: alignment };

  const out = new Bytes(version);
  out.raw(new TextEncoder().encode('GGUF'));
  out.u32(version);
  out.size(tensors.length);
  out.size(Object.keys(metadata).length);
  for (const [key, v] of Object.entries(metadata)) {
    out.string(key);
    writeValue(out, v);
  }
  // Tensor data: each tensor at an aligned offset from the start of the data section.
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    offsets.push(at);
    at += Math.ceil(t.data.length / alignment) * alignment;
  }
  tensors.forEach((t, i) => {
    out.string(t.name);
    out.u32(t.shape.length);
    for (const d of t.shape) out.size(d);
    out.u32(t.typeId);
    out.u64(BigInt(offsets[i]));
  });
  while (out.length % alignment !== 0) out.u8(0);
  tensors.forEach((t, i) => {
    out.raw(t.data);
    const next = i + 1 < tensors.length ? offsets[i + 1] : Math.ceil(t.data.length / alignment) * alignment + offsets[i];
    for (let pad = offsets[i] + t.data.length; pad < next; pad++) out.u8(0);
  });
  return out.bytes();
}

function writeValue(out: Bytes, v: TinyValue): void {
  switch (v.type) {
    case 'u8':
      out.u32(VALUE_TYPE.u8);
      out.u8(v.value);
      return;
    case 'u32':
      out.u32(VALUE_TYPE.u32);
      out.u32(v.value);
      return;
    case 'i32':
      out.u32(VALUE_TYPE.i32);
      out.i32(v.value);
      return;
    case 'u64':
      out.u32(VALUE_TYPE.u64);
      out.u64(v.value);
      return;
    case 'f32':
      out.u32(VALUE_TYPE.f32);
      out.f32(v.value);
      return;
    case 'bool':
      out.u32(VALUE_TYPE.bool);
      out.u8(v.value ? 1 : 0);
      return;
    case 'string':
      out.u32(VALUE_TYPE.string);
      out.string(v.value);
      return;
    case 'string[]':
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE.string);
      out.size(v.value.length);
      for (const s of v.value) out.string(s);
      return;
    case 'i32[]':
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE.i32);
      out.size(v.value.length);
      for (const x of v.value) out.i32(x);
      return;
    case 'f32[]':
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE.f32);
      out.size(v.value.length);
      for (const x of v.value) out.f32(x);
      return;
    case 'u64[]':
      out.u32(VALUE_TYPE.array);
      out.u32(VALUE_TYPE.u64);
      out.size(v.value.length);
      for (const x of v.value) out.u64(x);
      return;
  }
}
