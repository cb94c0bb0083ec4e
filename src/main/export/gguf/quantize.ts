// Float32 → GGML F16 and Q8_0 bytes for GGUF export, written to equal gguf-py's gguf.quants.quantize
// (gguf 0.19.0, numpy 1.24) byte for byte: F16 is numpy's float32 → float16 cast (npy_floatbits_to_halfbits:
// round half to even, overflow to ±inf, NaN payload kept), Q8_0 is gguf-py's Q8_0.quantize_blocks (the same
// as ggml-quants.c quantize_row_q8_0_ref): per 32 values d = max|x| / 127, q = roundf(x · (1/d)), d stored as
// F16. Every operation is one float32 rounding (Math.fround), as numpy's float32 arithmetic.
// tests/fixtures/gguf/q8_0_blocks.json (make_q8_0_blocks.py) checks it. Assumes a little-endian host, like ggml.
import { ggmlTypeByName } from '../../engine/io/gguf/ggml-types';

export const QUANT_TYPES = ['f16', 'q8_0'] as const;
export type QuantType = (typeof QUANT_TYPES)[number];

/** GGML type name of each --quant value. */
export const GGML_TYPE_OF: Record<QuantType, 'F16' | 'Q8_0'> = { f16: 'F16', q8_0: 'Q8_0' };

/** The float32 with bits `f` as f16 bits, as numpy's npy_floatbits_to_halfbits computes them. */
export function f32BitsToF16Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = f & 0x7f800000;
  if (exp >= 0x47800000) {
    // Overflow → ±inf; NaN keeps the top of its payload and stays a NaN.
    const sig = f & 0x007fffff;
    if (exp === 0x7f800000 && sig !== 0) {
      const nan = 0x7c00 + (sig >>> 13);
      return sign + (nan === 0x7c00 ? 0x7c01 : nan);
    }
    return sign + 0x7c00;
  }
  if (exp <= 0x38000000) {
    // Subnormal f16 or ±0.
    if (exp < 0x33000000) return sign;
    const e = exp >>> 23;
    let sig = (0x00800000 + (f & 0x007fffff)) >>> (113 - e);
    // Round half to even: the bits shifted out above are checked as well for a true tie.
    if ((sig & 0x3fff) !== 0x1000 || (f & 0x7ff) !== 0) sig += 0x1000;
    return sign + (sig >>> 13);
  }
  const hexp = (exp - 0x38000000) >>> 13;
  let sig = f & 0x007fffff;
  if ((sig & 0x3fff) !== 0x1000) sig += 0x1000;
  // A carry out of the significand bumps the exponent (to inf at most): the right result.
  return sign + ((hexp + (sig >>> 13)) & 0xffff);
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** One number (rounded to float32 first) as f16 bits. */
export function toF16Bits(x: number): number {
  scratch[0] = x;
  return f32BitsToF16Bits(scratchBits[0]);
}

/** GGML F16 bytes of `values` (2 per value, little-endian). */
export function quantizeF16(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return new Uint8Array(out.buffer);
}

const fround = Math.fround;

/** C's roundf (half away from zero) as gguf-py's np_roundf computes it in float32. */
function roundf(v: number): number {
  const a = Math.abs(v);
  const floored = Math.floor(a);
  const b = floored + Math.floor(fround(2 * fround(a - floored)));
  return v < 0 ? -b : v > 0 ? b : 0;
}

/** GGML Q8_0 bytes of `values` (a multiple of 32): per block f16 scale d, then 32 int8. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const { blockSize, typeSize } = ggmlTypeByName('Q8_0')!;
  if (values.length % blockSize !== 0) throw new RangeError(`Q8_0 needs a multiple of ${blockSize} values, got ${values.length}`);
  const blocks = values.length / blockSize;
  const out = new Uint8Array(blocks * typeSize);
  const view = new DataView(out.buffer);
  const qs = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const from = b * blockSize;
    let amax = 0;
    for (let i = 0; i < blockSize; i++) amax = Math.max(amax, Math.abs(values[from + i]));
    // Double then fround equals float32 division (one correctly rounded result either way).
    const d = fround(amax / 127);
    const id = d === 0 ? 0 : fround(1 / d);
    const at = b * typeSize;
    view.setUint16(at, toF16Bits(d), true);
    for (let i = 0; i < blockSize; i++) qs[at + 2 + i] = roundf(fround(values[from + i] * id));
  }
  return out;
}

/** `values` as GGML bytes of `type` (F32 copies them). */
export function encodeTensor(type: 'F32' | 'F16' | 'Q8_0', values: Float32Array): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  return type === 'F16' ? quantizeF16(values) : quantizeQ8_0(values);
}
