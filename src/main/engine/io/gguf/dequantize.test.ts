// Our dequantizers against gguf.quants.dequantize (gguf-py 0.19.0) on the blocks in
// tests/fixtures/gguf/gguf_blocks.json (real model blocks where the cached models have the type; see
// make_gguf_blocks.py). Equality is bit for bit: the same float32 arithmetic in the same order.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { DEQUANTIZABLE_TYPES, dequantize } from './dequantize';
import { ggmlTypeByName } from './ggml-types';

interface BlockGroup {
  type: string;
  source: string;
  blocks: number;
  raw: string;
  values: string;
}

const FIXTURE = join(import.meta.dirname, '../../../../../tests/fixtures/gguf/gguf_blocks.json');
const groups = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { blocks: BlockGroup[] }).blocks;

function bytesOf(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/** Index and bits of the first value whose float32 bits differ, or null when all match. */
function firstBitDifference(actual: Float32Array, expected: Uint8Array): { index: number; actual: number; expected: number } | null {
  const want = new Uint32Array(expected.buffer, expected.byteOffset, expected.byteLength / 4);
  const got = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) return { index: i, actual: actual[i], expected: new Float32Array(want.buffer, want.byteOffset, want.length)[i] };
  }
  return null;
}

describe('dequantize against gguf.quants.dequantize', () => {
  it('the fixture covers all 13 supported types', () => {
    expect(new Set(groups.map((g) => g.type))).toEqual(new Set(DEQUANTIZABLE_TYPES));
  });

  for (const group of groups) {
    it(`${group.type}: ${group.source}`, () => {
      const raw = bytesOf(group.raw);
      const expected = bytesOf(group.values);
      const count = expected.byteLength / 4;
      const values = dequantize(group.type, raw, count, { tensor: group.source });
      expect(firstBitDifference(values, expected)).toBeNull();
    });
  }

  it('gives the same values from bytes at an odd offset (no alignment assumed)', () => {
    for (const group of groups) {
      const raw = bytesOf(group.raw);
      const shifted = new Uint8Array(raw.length + 1).subarray(1);
      shifted.set(raw);
      const expected = bytesOf(group.values);
      expect(firstBitDifference(dequantize(group.type, shifted, expected.byteLength / 4, { tensor: group.source }), expected)).toBeNull();
    }
  });
});

describe('dequantize refuses what it cannot do, in one line', () => {
  for (const type of ['IQ2_XS', 'Q8_1', 'I32', 'TQ2_0']) {
    it(`refuses ${type} naming the tensor and its type`, () => {
      const info = ggmlTypeByName(type)!;
      const run = (): Float32Array => dequantize(type, new Uint8Array(info.typeSize), info.blockSize, { tensor: 'blk.3.attn_q.weight', file: '/m/model.gguf' });
      expect(run).toThrow(ApiError);
      try {
        run();
      } catch (err) {
        const e = err as ApiError;
        expect(e.code).toBe('unsupported');
        expect(e.message).toContain('blk.3.attn_q.weight');
        expect(e.message).toContain(type);
        expect(e.message).not.toContain('\n');
        expect(e.file).toBe('/m/model.gguf');
      }
    });
  }

  it('refuses a byte count that does not match the values asked for', () => {
    expect(() => dequantize('Q4_K', new Uint8Array(143), 256, { tensor: 't' })).toThrow(/needs 144 bytes for 256 values but got 143/);
    expect(() => dequantize('Q8_0', new Uint8Array(34), 33, { tensor: 't' })).toThrow(/not a whole number of 32-value blocks/);
  });

  it('dequantizes a 1M-value Q4_K tensor to finite values', () => {
    // Speed is a benchmark's business, not a timed test's: this checks a large tensor end to end.
    const blocks = 4096;
    const raw = new Uint8Array(blocks * 144);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
    for (let b = 0; b < blocks; b++) raw.set([0x00, 0x20, 0x00, 0x1c], b * 144); // finite d, dmin
    const values = dequantize('Q4_K', raw, blocks * 256, { tensor: 't' });
    expect(values).toHaveLength(blocks * 256);
    expect(values.every(Number.isFinite)).toBe(true);
  });
});
