// The forward layout changes the GGUF LoRA export applies (llama.cpp's converter's, on lora_b's rows) against
// hand-worked examples, and round trips with the loader's inverses.
import { describe, expect, it } from 'vitest';
import { groupNeoxQkv, permuteRows, regroupNeoxQkv, toGgufRowOrder, unpermuteRows } from './gguf-layout';

const seq = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i);

describe('permuteRows (LlamaModel.permute)', () => {
  it('interleaves the two halves of each head: HF rows [r0 r1 r2 r3] → [r0 r2 r1 r3]', () => {
    // numpy: w.reshape(1, 2, 2, cols).swapaxes(1, 2).reshape(4, cols), cols = 2
    expect([...permuteRows(seq(8), 1, 2)]).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
    // two heads of 4 rows, one column each
    expect([...permuteRows(seq(8), 2, 1)]).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });

  it('is undone by unpermuteRows (and the other way round)', () => {
    const x = Float32Array.from({ length: 9 * 16 * 3 }, (_, i) => Math.sin(i)); // 144 rows × 3 columns
    for (const heads of [1, 3, 9]) {
      expect(unpermuteRows(permuteRows(x, heads, 3), heads, 3)).toEqual(x);
      expect(permuteRows(unpermuteRows(x, heads, 3), heads, 3)).toEqual(x);
    }
  });

  it('refuses a shape that is not whole heads of even size', () => {
    expect(() => permuteRows(seq(6), 1, 2)).toThrow(/cannot permute/);
  });
});

describe('groupNeoxQkv (GPTNeoXModel.modify_tensors)', () => {
  it('puts all q rows, then all k, then all v: HF [h0q h0k h0v h1q h1k h1v] → [h0q h1q h0k h1k h0v h1v]', () => {
    expect([...groupNeoxQkv(seq(6), 2, 1)]).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('is undone by regroupNeoxQkv', () => {
    const x = Float32Array.from({ length: 4 * 3 * 2 * 5 }, (_, i) => Math.cos(i));
    expect(regroupNeoxQkv(groupNeoxQkv(x, 4, 5), 4, 5)).toEqual(x);
  });
});

describe('toGgufRowOrder', () => {
  it('permutes for permuteHeads, groups for neoxQkvHeads, and leaves other (and transposed) weights as they are', () => {
    const x = seq(8);
    expect([...toGgufRowOrder({ tensor: 't', permuteHeads: 1 }, x, 2)]).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
    expect([...toGgufRowOrder({ tensor: 't', neoxQkvHeads: 1 }, seq(6), 2)]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(toGgufRowOrder({ tensor: 't', transpose: true }, x, 2)).toBe(x);
    expect(toGgufRowOrder({ tensor: 't' }, x, 2)).toBe(x);
  });
});
