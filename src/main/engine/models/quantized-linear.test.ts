// A quantized matrix's product (over row chunks for a large vocabulary's LM head) equals the float32 model's
// product bit for bit, value and gradient, on every backend; a quantized embedding
// table's lookup equals tf.gather on its float32 values.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { linearProduct } from './ops';
import { plainMatrix } from './plain-matrix';
import { quantizedLinearProduct, quantizedRows } from './quantized-linear';

const backends = ['cpu', ...(await probeBackends()).filter((b) => b.available && (b.name === 'wasm' || b.name === 'tensorflow')).map((b) => b.name)];

describe.each(backends)('quantized products on %s', (backend) => {
  it('a quantized head equals the float32 head bit for bit, value and dx, in one piece and over row chunks (uneven last chunk)', async () => {
    await initBackend(backend as never);
    const [vocab, hidden, rows] = [1000, 48, 7];
    const values = tf.tidy(() => tf.randomNormal([vocab, hidden], 0, 0.1, 'float32', 4).dataSync() as Float32Array);
    const table = plainMatrix(values, [vocab, hidden]);
    const results = tf.tidy(() => {
      const x = tf.randomNormal([rows, hidden], 0, 1, 'float32', 5) as tf.Tensor2D;
      const dy = tf.randomNormal([rows, vocab], 0, 1, 'float32', 6) as tf.Tensor2D;
      const weight = tf.tensor2d(values, [vocab, hidden]);
      const transposed = weight.transpose() as tf.Tensor2D;
      const run = (f: (x: tf.Tensor2D) => tf.Tensor2D) => {
        const { value, grads } = tf.valueAndGrads((input: tf.Tensor) =>
          f(input as tf.Tensor2D)
            .mul(dy)
            .sum(),
        )([x]);
        return [f(x).dataSync(), grads[0].dataSync(), value.dataSync()];
      };
      return [
        run((input) => linearProduct(input, { weight, layout: 'out_in', transposed: () => transposed }, vocab)), // one piece
        run((input) => quantizedLinearProduct(input, { quantized: table, layout: 'out_in' }, vocab)),
        run((input) => linearProduct(input, { weight, layout: 'out_in', transposed: () => transposed }, 128)), // 8 chunks, the last 104 rows
        run((input) => quantizedLinearProduct(input, { quantized: table, layout: 'out_in' }, 128)),
      ];
    });
    const [float, quantized, floatChunked, quantizedChunked] = results.map((r) => r.map((a) => Array.from(a)));
    expect(quantized).toEqual(float);
    expect(quantizedChunked).toEqual(floatChunked);
    // The forward's column pieces are the one-piece product exactly; the chunked backward sum differs from the
    // one-piece dx by rounding only.
    expect(floatChunked[0]).toEqual(float[0]);
    const worst = floatChunked[1].reduce((m, v, i) => Math.max(m, Math.abs(v - float[1][i])), 0);
    expect(worst).toBeLessThan(1e-4);
    await initBackend('cpu');
  });

  it('an embedding lookup reads the rows it needs, equal to tf.gather, and refuses ids outside the table', async () => {
    await initBackend(backend as never);
    const values = Float32Array.from({ length: 50 * 8 }, (_, i) => Math.sin(i));
    const table = plainMatrix(values, [50, 8]);
    const ids = tf.tensor2d([[3, 49, 3, 0]], [1, 4], 'int32');
    const [got, expected] = tf.tidy(() => [quantizedRows(table, ids).arraySync(), tf.gather(tf.tensor2d(values, [50, 8]), ids).arraySync()]);
    expect(got).toEqual(expected);
    const bad = tf.tensor1d([2, 50], 'int32');
    expect(() => quantizedRows(table, bad)).toThrow(/token id 50 is outside the embedding table's 50 rows/);
    tf.dispose([ids, bad]);
    await initBackend('cpu');
  });
});
