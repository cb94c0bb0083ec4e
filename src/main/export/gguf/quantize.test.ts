// Our F16 and Q8_0 encoders against gguf.quants.quantize (gguf-py 0.19.0) on the values in
// tests/fixtures/gguf/q8_0_blocks.json (make_q8_0_blocks.py): byte for byte. Then a round trip through our
// dequantizer: Q8_0 loses at most half a step (d/2) per value, F16 half an f16 ulp.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../engine/io/gguf/dequantize';
import { f32BitsToF16Bits, quantizeF16, quantizeQ8_0, toF16Bits } from './quantize';

interface Group {
  type: 'F16' | 'Q8_0';
  source: string;
  values: string;
  raw: string;
}

const FIXTURE = join(import.meta.dirname, '../../../../tests/fixtures/gguf/q8_0_blocks.json');
const groups = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { groups: Group[] }).groups;

function floatsOf(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** First byte index where the two differ, or null. */
function firstDifference(actual: Uint8Array, expected: Uint8Array): { index: number; actual: number; expected: number } | null {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) return { index: i, actual: actual[i], expected: expected[i] };
  return null;
}

describe('F16 and Q8_0 encoders against gguf.quants.quantize', () => {
  it('the fixture has both types', () => {
    expect(new Set(groups.map((g) => g.type))).toEqual(new Set(['F16', 'Q8_0']));
  });

  for (const group of groups) {
    it(`${group.type}: ${group.source}`, () => {
      const values = floatsOf(group.values);
      const expected = new Uint8Array(Buffer.from(group.raw, 'base64'));
      const actual = group.type === 'F16' ? quantizeF16(values) : quantizeQ8_0(values);
      expect(firstDifference(actual, expected)).toBeNull();
    });
  }

  it('Q8_0 round-trips through our dequantizer within half a step per value', () => {
    for (const group of groups.filter((g) => g.type === 'Q8_0')) {
      const values = floatsOf(group.values);
      const raw = quantizeQ8_0(values);
      const back = dequantize('Q8_0', raw, values.length, { tensor: group.source });
      for (let b = 0; b < values.length / 32; b++) {
        const d = new DataView(raw.buffer).getUint16(b * 34, true);
        const scale = dequantize('F16', new Uint8Array([d & 0xff, d >> 8]), 1, { tensor: 'd' })[0];
        if (!Number.isFinite(scale) || scale === 0) continue; // a scale outside f16's range loses the block (as in ggml)
        for (let i = b * 32; i < (b + 1) * 32; i++) {
          // |q·d_f16 − x| ≤ d/2 from rounding q, plus 127·|d_f16 − d| from storing d as f16: half an f16 ulp,
          // relative 2^-11, or 2^-25 absolute below f16's normal range (subnormal scales).
          expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(scale / 2 + 127 * Math.max(scale * 2 ** -11, 2 ** -25));
        }
      }
    }
  });

  it('F16 round-trips: an f16 value is kept exactly, others move by at most half an ulp', () => {
    const values = new Float32Array([0, 1, -2.5, 65504, 0.1, 1e-3, 3.14159, -7.25e-6]);
    const back = dequantize('F16', quantizeF16(values), values.length, { tensor: 'x' });
    expect(back[1]).toBe(1);
    expect(back[2]).toBe(-2.5);
    expect(back[3]).toBe(65504);
    for (let i = 0; i < values.length; i++) expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -25);
    // Every f16 bit pattern survives f16 → f32 → f16 (NaNs keep their payload).
    const all = new Uint16Array(65536).map((_, i) => i);
    const asF32 = dequantize('F16', new Uint8Array(all.buffer), 65536, { tensor: 'all' });
    const again = new Uint16Array(quantizeF16(asF32).buffer);
    expect(again).toEqual(all);
  });

  it('rounds half to even and overflows to infinity', () => {
    expect(toF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (1.0)
    expect(toF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (upwards)
    expect(toF16Bits(65520)).toBe(0x7c00);
    expect(toF16Bits(-1e6)).toBe(0xfc00);
    expect(f32BitsToF16Bits(0x7f800001)).toBe(0x7c01); // a NaN whose payload is in the low bits stays a NaN
  });

  it('refuses a Q8_0 tensor that is not whole blocks', () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(/multiple of 32/);
  });
});
