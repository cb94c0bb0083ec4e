// The profile's product accounting: FLOPs from input shapes must equal what tf.matMul / the depthwise form compute,
// whichever operand is transposed (checked against the shapes of real products).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { batchMatMulFlops, depthwiseProductFlops, productThroughput } from '../../bench/product-flops';

describe('product FLOPs from input shapes', () => {
  it('counts 2·M·K·N per group for every transpose form', () => {
    // [512, 576] · [576, 1536]: the plain form, and the same product with b stored transposed.
    expect(batchMatMulFlops([512, 576], [576, 1536])).toBe(2 * 512 * 576 * 1536);
    expect(batchMatMulFlops([512, 576], [1536, 576])).toBe(2 * 512 * 576 * 1536);
    // aᵀ·b (a weight gradient: x [512, 576]ᵀ · dy [512, 1536]).
    expect(batchMatMulFlops([512, 576], [512, 1536])).toBe(2 * 576 * 512 * 1536);
    // Batched attention scores [8, 9, 64, 64] · [8, 9, 74, 64]ᵀ.
    expect(batchMatMulFlops([8, 9, 64, 64], [8, 9, 74, 64])).toBe(2 * 72 * 64 * 64 * 74);
  });

  it('agrees with the output size of the product tf computes', () => {
    for (const [a, b, ta, tb] of [
      [[3, 5], [5, 7], false, false],
      [[5, 3], [5, 7], true, false],
      [[3, 5], [7, 5], false, true],
      [[2, 3, 5], [2, 5, 4], false, false],
    ] as [number[], number[], boolean, boolean][]) {
      const out = tf.tidy(() => tf.matMul(tf.zeros(a), tf.zeros(b), ta, tb).shape);
      const inner = ta ? a[a.length - 2] : a[a.length - 1];
      expect(batchMatMulFlops(a, b)).toBe(2 * out.reduce((x, y) => x * y, 1) * inner);
    }
  });

  it('counts the depthwise form of a batched product and sums throughput per kind', () => {
    expect(depthwiseProductFlops([1, 192, 74, 24], [192, 1, 24, 64])).toBe(2 * 192 * 74 * 24 * 64);
    const rows = productThroughput(
      [
        {
          name: 'BatchMatMul',
          inputShapes: [
            [1000, 1000],
            [1000, 1000],
          ],
          kernelTimeMs: 100,
        },
        {
          name: 'BatchMatMul',
          inputShapes: [
            [1000, 1000],
            [1000, 1000],
          ],
          kernelTimeMs: 100,
        },
        { name: 'Add', inputShapes: [[1000], [1000]], kernelTimeMs: 5 },
      ],
      2,
    );
    expect(rows).toEqual([{ kernel: 'BatchMatMul', gflopPerStep: 2, msPerStep: 100, gflops: 20 }]);
  });
});
