// Floating-point operations of the matrix products a profile recorded, from their input shapes alone (tf.profile
// keeps no attributes): what lets a profile say how close a backend's products run to the machine's peak.
import * as tf from '@tensorflow/tfjs';

/**
 * 2·M·K·N per group of a BatchMatMul with inputs a [.., r1, c1] and b [.., r2, c2]. The contracted size K is the
 * dimension of a that b shares (c1 without transposes, else r1); where both match, the products are the same.
 */
export function batchMatMulFlops(a: readonly number[], b: readonly number[]): number {
  const [r1, c1] = a.slice(-2);
  const [r2, c2] = b.slice(-2);
  const groups = Math.max(tf.util.sizeFromShape(a.slice(0, -2)), tf.util.sizeFromShape(b.slice(0, -2)));
  const inner = c1 === r2 || c1 === c2 ? c1 : r1;
  const outer = inner === r2 ? c2 : r2;
  return 2 * groups * (r1 * c1) * outer;
}

/**
 * 2·K·M·G·N of a depthwise convolution used as a batched product (engine/models/ops.ts batchedProduct on wasm):
 * input [1, K, M, G], filter [K, 1, G, N] → [1, 1, M, G·N].
 */
export function depthwiseProductFlops(input: readonly number[], filter: readonly number[]): number {
  const [, inner, rows, groups] = input;
  return 2 * inner * rows * groups * filter[3];
}

/** The products among profiled kernels: GFLOP and milliseconds per step, by kind (a kernel tf.profile could not time counts 0 ms). */
export function productThroughput(
  kernels: readonly { name: string; inputShapes: readonly (readonly number[])[]; kernelTimeMs: unknown }[],
  steps: number,
): { kernel: string; gflopPerStep: number; msPerStep: number; gflops: number }[] {
  const totals = new Map<string, { flops: number; ms: number }>();
  for (const k of kernels) {
    const [x, y] = k.inputShapes;
    const flops =
      k.name === 'BatchMatMul' && x && y
        ? batchMatMulFlops(x, y)
        : k.name === 'DepthwiseConv2dNative' && x?.length === 4 && y?.length === 4 && x[0] === 1 && y[1] === 1
          ? depthwiseProductFlops(x, y)
          : null;
    if (flops === null) continue;
    const entry = totals.get(k.name) ?? { flops: 0, ms: 0 };
    entry.flops += flops;
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    totals.set(k.name, entry);
  }
  return [...totals].map(([kernel, { flops, ms }]) => ({ kernel, gflopPerStep: flops / 1e9 / steps, msPerStep: ms / steps, gflops: ms > 0 ? flops / 1e9 / (ms / 1e3) : 0 }));
}
