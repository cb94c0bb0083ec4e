// A frozen linear layer whose matrix stays in its quantized form (a GGUF base's blocks) and is dequantized inside
// each use: the forward product dequantizes it, multiplies and frees it; the backward product (dx = dy·W, the
// only gradient a frozen weight needs) dequantizes it again. Nothing holds the float32 matrix between uses, so a
// training step holds at most one layer's float32 matrix (and its transposed copy) at a time.
//
// The products are ops.linearProduct's for a frozen weight, in the same forms (the kept transposed copy where
// keepsTransposedWeights, transpose flags elsewhere) on the same float32 values, so the results equal the
// dequantize-at-load model's bit for bit.
import * as tf from '@tensorflow/tfjs';
import { chunkedRowProduct, keepsTransposedWeights, prefersPlainProducts, ROW_CHUNK } from './ops';

/** A frozen matrix kept in a compact form; values() gives its float32 values in the model's layout, row-major. */
export interface QuantizedMatrix {
  /** The model's layout: [out, in] for 'out_in', [in, out] for 'in_out'. */
  readonly shape: [number, number];
  /** Bytes held (the compact form). */
  readonly byteLength: number;
  /** A fresh Float32Array of the values (exactly what loading it as float32 gives). */
  values(): Float32Array;
  /** Rows [start, end) of the model's layout, row-major: the same values as values() holds there. */
  rowRange(start: number, end: number): Float32Array;
  /** The given rows, in order, row-major [ids.length, cols] (an embedding lookup). */
  rows(ids: ArrayLike<number>): Float32Array;
}

/** A linear layer over a quantized matrix (the counterpart of ops.LinearWeights). */
export interface QuantizedLinearWeights {
  quantized: QuantizedMatrix;
  layout: 'out_in' | 'in_out';
  bias?: tf.Tensor1D;
}

/**
 * The matrix as a tensor in the layout the product needs: [in, out] (`inOut`) or [out, in]. The other layout is
 * the backend's transpose (a permutation, as the float32 model's kept copy: same values), several times faster
 * than a JavaScript loop over the values.
 */
function matrix(q: QuantizedMatrix, layout: QuantizedLinearWeights['layout'], inOut: boolean): tf.Tensor2D {
  const stored = tf.tensor2d(q.values(), q.shape, 'float32');
  if ((layout === 'in_out') === inOut) return stored;
  const other = stored.transpose() as tf.Tensor2D;
  stored.dispose();
  return other;
}

/**
 * x [N, in] → x·Wᵀ + b [N, out] (x·W + b for 'in_out') with W dequantized for the forward product and again
 * for the backward one, each freed after use.
 */
export function quantizedLinearProduct(x: tf.Tensor2D, qw: QuantizedLinearWeights, rowChunk = ROW_CHUNK): tf.Tensor2D {
  const { quantized, bias, layout } = qw;
  const isOutIn = layout === 'out_in';
  // linearProduct's choice for a frozen weight: plain products on a kept transposed copy where the model keeps
  // one (keepsTransposedWeights), an explicit transpose on wasm without one, transpose flags elsewhere.
  const isPlain = keepsTransposedWeights() || prefersPlainProducts();
  // Large [out, in] matrices (LM heads) go by row chunks both ways, so no step holds the whole float32 matrix:
  // the forward's column pieces are the one-piece product's columns exactly (quantized-linear.test.ts), the
  // backward is linearProduct's own chunked sum.
  const [outputs] = quantized.shape;
  const isChunked = isOutIn && outputs > rowChunk;
  const op = tf.customGrad((input) => {
    const product2d = isChunked
      ? chunkedForward(input as tf.Tensor2D, quantized, isPlain, rowChunk)
      : tf.tidy(() => {
          if (isPlain) return tf.matMul(input as tf.Tensor2D, matrix(quantized, layout, true));
          return tf.matMul(input as tf.Tensor2D, matrix(quantized, layout, !isOutIn), false, isOutIn);
        }); // [N, out]; the dequantized matrix is freed here
    return {
      value: bias ? product2d.add(bias) : product2d,
      gradFunc: (dy: tf.Tensor) =>
        tf.tidy(() => {
          if (isChunked) return chunkedRowProduct(dy as tf.Tensor2D, outputs, (start, end) => rowsTensor(quantized, start, end), rowChunk);
          if (isPlain) return tf.matMul(dy as tf.Tensor2D, matrix(quantized, layout, false)); // [N, in]
          return tf.matMul(dy as tf.Tensor2D, matrix(quantized, layout, !isOutIn), false, !isOutIn); // [N, in]
        }),
    };
  });
  return op(x) as tf.Tensor2D;
}

/** Rows [start, end) of q as a float32 tensor [end − start, in]. */
export function rowsTensor(q: QuantizedMatrix, start: number, end: number): tf.Tensor2D {
  return tf.tensor2d(q.rowRange(start, end), [end - start, q.shape[1]], 'float32');
}

/** x [N, in] · W[start:end]ᵀ for each chunk of W's [out, in] rows, concatenated: [N, out]. */
function chunkedForward(x: tf.Tensor2D, q: QuantizedMatrix, isPlain: boolean, rowChunk: number): tf.Tensor2D {
  const [outputs] = q.shape;
  const parts: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < outputs; start += rowChunk) {
      const end = Math.min(outputs, start + rowChunk);
      parts.push(
        tf.tidy(() => {
          const rows = rowsTensor(q, start, end); // [chunk, in]
          return isPlain ? tf.matMul(x, rows.transpose() as tf.Tensor2D) : tf.matMul(x, rows, false, true); // [N, chunk]
        }),
      );
    }
    return tf.concat(parts, 1) as tf.Tensor2D; // [N, out]
  } finally {
    tf.dispose(parts);
  }
}

/** A frozen embedding table kept quantized: ids [...] → their rows [..., D], dequantized for this lookup only. */
export function quantizedRows(table: QuantizedMatrix, ids: tf.Tensor): tf.Tensor {
  const [count, width] = table.shape;
  const values = ids.dataSync();
  for (const id of values) {
    if (!Number.isInteger(id) || id < 0 || id >= count) throw new Error(`token id ${id} is outside the embedding table's ${count} rows`);
  }
  return tf.tensor(table.rows(values), [...ids.shape, width], 'float32');
}
