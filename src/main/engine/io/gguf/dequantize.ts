// Dequantizes GGML tensor data to float32, written from the block layouts in gguf-py's quants.py (gguf 0.19.0)
// and llama.cpp's ggml-quants.c. The arithmetic follows gguf-py's float32 numpy order, one IEEE float32 rounding
// per operation (Math.fround, and the final store into a Float32Array), so results equal
// gguf.quants.dequantize bit for bit (tests/fixtures/gguf/gguf_blocks.json checks it).
// One pass over typed arrays per tensor, no per-value allocation. Assumes a little-endian host, like ggml.
import { ApiError } from '@shared/errors';
import { ggmlTypeByName } from './ggml-types';

export const DEQUANTIZABLE_TYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
export type DequantizableType = (typeof DEQUANTIZABLE_TYPES)[number];

export function canDequantize(type: string): type is DequantizableType {
  return (DEQUANTIZABLE_TYPES as readonly string[]).includes(type);
}

/** Which tensor (and file) the bytes belong to, for error messages. */
export interface DequantizeSubject {
  tensor: string;
  file?: string;
}

/**
 * `count` float32 values from `bytes`, GGML type `type` (exactly count / blockSize × typeSize bytes).
 * Throws ApiError 'unsupported' naming the tensor and its type for a type outside DEQUANTIZABLE_TYPES.
 */
export function dequantize(type: string, bytes: Uint8Array, count: number, subject: DequantizeSubject): Float32Array {
  assertDequantizable(type, subject);
  const where = { file: subject.file, field: subject.tensor };
  const { blockSize, typeSize } = ggmlTypeByName(type)!;
  if (!Number.isSafeInteger(count) || count < 0 || count % blockSize !== 0) {
    throw new ApiError('bad_file', `tensor ${subject.tensor} (${type}) has ${count} values, not a whole number of ${blockSize}-value blocks`, where);
  }
  const blocks = count / blockSize;
  if (bytes.byteLength !== blocks * typeSize) {
    throw new ApiError('bad_file', `tensor ${subject.tensor} (${type}) needs ${blocks * typeSize} bytes for ${count} values but got ${bytes.byteLength}`, where);
  }
  let out: Float32Array;
  try {
    out = new Float32Array(count);
  } catch {
    throw new ApiError('out_of_memory', `tensor ${subject.tensor} (${count} values) does not fit in memory as float32`, where);
  }
  KERNELS[type](bytes, blocks, out);
  return out;
}

/** Throws ApiError 'unsupported' naming the tensor and its type unless `type` is in DEQUANTIZABLE_TYPES. */
export function assertDequantizable(type: string, subject: DequantizeSubject): asserts type is DequantizableType {
  if (canDequantize(type)) return;
  throw new ApiError('unsupported', `tensor ${subject.tensor} has type ${type}, which cannot be dequantized (supported: ${DEQUANTIZABLE_TYPES.join(', ')})`, {
    file: subject.file,
    field: subject.tensor,
  });
}

type Kernel = (b: Uint8Array, blocks: number, out: Float32Array) => void;

// ---- half precision ----

/** float32 bits of every f16 value, computed like numpy's npy_halfbits_to_floatbits (NaN payloads kept). */
const F16_BITS: Uint32Array = (() => {
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    let mantissa = h & 0x3ff;
    if (exponent === 0x1f) table[h] = sign | 0x7f800000 | (mantissa << 13);
    else if (exponent !== 0) table[h] = sign | ((exponent + 112) << 23) | (mantissa << 13);
    else if (mantissa === 0) table[h] = sign;
    else {
      // Subnormal f16: normalise (f32 has the exponent range to hold it exactly).
      let e = 113;
      while ((mantissa & 0x400) === 0) {
        mantissa <<= 1;
        e--;
      }
      table[h] = sign | (e << 23) | ((mantissa & 0x3ff) << 13);
    }
  }
  return table;
})();
const F16: Float32Array = new Float32Array(F16_BITS.buffer);

/** The f16 at byte `at` (little-endian) as a number. */
function half(b: Uint8Array, at: number): number {
  return F16[b[at] | (b[at + 1] << 8)];
}

/** A view of `bytes` whose offset is a multiple of `n` (copied when it is not), so wider typed arrays can view it. */
function aligned(bytes: Uint8Array, n: number): Uint8Array {
  return bytes.byteOffset % n === 0 ? bytes : bytes.slice();
}

const fround = Math.fround;

// ---- float types (bit copies: NaN payloads survive, as in numpy) ----

const f32: Kernel = (b, _blocks, out) => {
  new Uint8Array(out.buffer).set(b);
};

const f16: Kernel = (b, blocks, out) => {
  const a = aligned(b, 2);
  const src = new Uint16Array(a.buffer, a.byteOffset, blocks);
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < blocks; i++) dst[i] = F16_BITS[src[i]];
};

const bf16: Kernel = (b, blocks, out) => {
  const a = aligned(b, 2);
  const src = new Uint16Array(a.buffer, a.byteOffset, blocks);
  const dst = new Uint32Array(out.buffer);
  // bf16 is the top half of a float32.
  for (let i = 0; i < blocks; i++) dst[i] = src[i] << 16;
};

// ---- 32-value blocks ----

// Q8_0: d (f16), 32 × int8; x = q·d.
const q8_0: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 34, o += 32) {
    const d = half(b, p);
    for (let i = 0; i < 32; i++) out[o + i] = ((b[p + 2 + i] << 24) >> 24) * d;
  }
};

// Q4_0: d, 16 bytes of nibbles (low nibbles = values 0..15, high = 16..31); x = (q − 8)·d.
const q4_0: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 18, o += 32) {
    const d = half(b, p);
    for (let i = 0; i < 16; i++) {
      const byte = b[p + 2 + i];
      out[o + i] = ((byte & 15) - 8) * d;
      out[o + 16 + i] = ((byte >> 4) - 8) * d;
    }
  }
};

// Q4_1: d, m, 16 bytes of nibbles; x = q·d + m.
const q4_1: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 20, o += 32) {
    const d = half(b, p);
    const m = half(b, p + 2);
    for (let i = 0; i < 16; i++) {
      const byte = b[p + 4 + i];
      out[o + i] = fround(d * (byte & 15)) + m;
      out[o + 16 + i] = fround(d * (byte >> 4)) + m;
    }
  }
};

/** The 32-bit little-endian word at `at` (unaligned). */
function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

// Q5_0: d, qh (32 fifth bits), 16 bytes of nibbles; x = (q − 16)·d.
const q5_0: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 22, o += 32) {
    const d = half(b, p);
    const qh = u32(b, p + 2);
    for (let i = 0; i < 16; i++) {
      const byte = b[p + 6 + i];
      out[o + i] = (((byte & 15) | (((qh >>> i) & 1) << 4)) - 16) * d;
      out[o + 16 + i] = (((byte >> 4) | (((qh >>> (i + 16)) & 1) << 4)) - 16) * d;
    }
  }
};

// Q5_1: d, m, qh, 16 bytes of nibbles; x = q·d + m.
const q5_1: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 24, o += 32) {
    const d = half(b, p);
    const m = half(b, p + 2);
    const qh = u32(b, p + 4);
    for (let i = 0; i < 16; i++) {
      const byte = b[p + 8 + i];
      out[o + i] = fround(d * ((byte & 15) | (((qh >>> i) & 1) << 4))) + m;
      out[o + 16 + i] = fround(d * ((byte >> 4) | (((qh >>> (i + 16)) & 1) << 4))) + m;
    }
  }
};

// ---- 256-value super-blocks (K-quants) ----
// In the 2-bit fields of Q2_K/Q3_K (and Q6_K's high bits), value idx of a 128-value half k sits in byte
// k·32 + (idx & 31) at bit 2·((idx >> 5) & 3).

// Q2_K: 16 scale bytes (low nibble scale, high nibble min), 64 bytes of 2-bit q, d, dmin; x = (d·sc)·q − dmin·m.
const q2_k: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 84, o += 256) {
    const d = half(b, p + 80);
    const dmin = half(b, p + 82);
    for (let t = 0; t < 16; t++) {
      const sc = b[p + t];
      const dl = fround(d * (sc & 15));
      const ml = fround(dmin * (sc >> 4));
      for (let j = 0; j < 16; j++) {
        const idx = t * 16 + j;
        const q = (b[p + 16 + (idx >> 7) * 32 + (idx & 31)] >> (2 * ((idx >> 5) & 3))) & 3;
        out[o + idx] = fround(dl * q) - ml;
      }
    }
  }
};

// Q3_K: hmask (32), 64 bytes of low 2 bits, 12 bytes of 16 packed 6-bit scales, d; x = (d·(sc − 32))·q,
// q = low − 4 where the hmask bit is 0.
const q3_k: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 110, o += 256) {
    const d = half(b, p + 108);
    const s = p + 96;
    for (let t = 0; t < 16; t++) {
      const low = (b[s + (t & 7)] >> (4 * (t >> 3))) & 15;
      const high = (b[s + 8 + (t & 3)] >> (2 * (t >> 2))) & 3;
      const dl = fround(d * ((low | (high << 4)) - 32));
      for (let j = 0; j < 16; j++) {
        const idx = t * 16 + j;
        const ql = (b[p + 32 + (idx >> 7) * 32 + (idx & 31)] >> (2 * ((idx >> 5) & 3))) & 3;
        const hbit = (b[p + (idx & 31)] >> (idx >> 5)) & 1;
        out[o + idx] = dl * (ql - (hbit ? 0 : 4));
      }
    }
  }
};

/** Q4_K/Q5_K's 8 packed 6-bit (scale, min) pairs at `s` (llama.cpp get_scale_min_k4); fills sc and mn. */
function scaleMinK4(b: Uint8Array, s: number, sc: Uint8Array, mn: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    sc[j] = b[s + j] & 63;
    mn[j] = b[s + j + 4] & 63;
    sc[j + 4] = (b[s + j + 8] & 15) | ((b[s + j] >> 2) & 0x30);
    mn[j + 4] = (b[s + j + 8] >> 4) | ((b[s + j + 4] >> 2) & 0x30);
  }
}

// Q4_K: d, dmin, 12 bytes of scales/mins, 128 bytes of nibbles (32-byte chunk c: low = sub-block 2c, high = 2c+1);
// x = (d·sc)·q − dmin·m.
const q4_k: Kernel = (b, blocks, out) => {
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 144, o += 256) {
    const d = half(b, p);
    const dmin = half(b, p + 2);
    scaleMinK4(b, p + 4, sc, mn);
    for (let s = 0; s < 8; s++) {
      const ds = fround(d * sc[s]);
      const dm = fround(dmin * mn[s]);
      const q = p + 16 + (s >> 1) * 32;
      const shift = 4 * (s & 1);
      for (let i = 0; i < 32; i++) out[o + s * 32 + i] = fround(ds * ((b[q + i] >> shift) & 15)) - dm;
    }
  }
};

// Q5_K: as Q4_K plus qh (32 bytes; bit s of byte i is the fifth bit of sub-block s, value i).
const q5_k: Kernel = (b, blocks, out) => {
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 176, o += 256) {
    const d = half(b, p);
    const dmin = half(b, p + 2);
    scaleMinK4(b, p + 4, sc, mn);
    for (let s = 0; s < 8; s++) {
      const ds = fround(d * sc[s]);
      const dm = fround(dmin * mn[s]);
      const q = p + 48 + (s >> 1) * 32;
      const shift = 4 * (s & 1);
      for (let i = 0; i < 32; i++) {
        const v = ((b[q + i] >> shift) & 15) | (((b[p + 16 + i] >> s) & 1) << 4);
        out[o + s * 32 + i] = fround(ds * v) - dm;
      }
    }
  }
};

// Q6_K: ql (128 bytes of low nibbles), qh (64 bytes of 2-bit highs), 16 int8 scales, d; x = (d·sc)·(q − 32).
const q6_k: Kernel = (b, blocks, out) => {
  for (let k = 0, p = 0, o = 0; k < blocks; k++, p += 210, o += 256) {
    const d = half(b, p + 208);
    for (let t = 0; t < 16; t++) {
      const ds = fround(d * ((b[p + 192 + t] << 24) >> 24));
      for (let j = 0; j < 16; j++) {
        const idx = t * 16 + j;
        const half128 = idx >> 7;
        const r = idx & 127;
        const lo = (b[p + half128 * 64 + (r & 63)] >> (4 * (r >> 6))) & 15;
        const hi = (b[p + 128 + half128 * 32 + (r & 31)] >> (2 * (r >> 5))) & 3;
        out[o + idx] = ds * ((lo | (hi << 4)) - 32);
      }
    }
  }
};

const KERNELS: Record<DequantizableType, Kernel> = {
  F32: f32,
  F16: f16,
  BF16: bf16,
  Q8_0: q8_0,
  Q4_0: q4_0,
  Q4_1: q4_1,
  Q5_0: q5_0,
  Q5_1: q5_1,
  Q2_K: q2_k,
  Q3_K: q3_k,
  Q4_K: q4_k,
  Q5_K: q5_k,
  Q6_K: q6_k,
};
