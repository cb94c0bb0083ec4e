// A frozen linear layer whose matrix stays in its quantized form (a GGUF base's blocks) and is dequantized inside
// each use: the forward product dequantizes it, multiplies and frees it; the backward product (dx = dy·W, the
// only gradient a frozen weight needs) dequantizes it again. Nothing holds the float32 matrix between uses, so a
// training step holds at most one layer's float32 matrix (and its transposed copy) at a time.
//
// The products are ops.linearProduct's for a frozen weight, in the same forms (the kept transposed copy where
// keepsTransposedWeights, transpose flags elsewhere) on the same float32 values, so the results equal the
// dequantize-at-load model's bit for bit.
import * as tf from '@tensorflow/tfjs';
import { keepsTransposedWeights, prefersPlainProducts } from './ops';

/** A frozen matrix kept in a compact form; values() gives its float32 values in the model's layout, row-major. */
export interface QuantizedMatrix {
  /** The model's layout: [out, in] for 'out_in', [in, out] for 'in_out'. */
  readonly shape: [number, number];
  /** Bytes held (the compact form). */
  readonly byteLength: number;
  /** A fresh Float32Array of the values (exactly what loading it as float32 gives). */
  values(): Float32Array;
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
export function quantizedLinearProduct(x: tf.Tensor2D, qw: QuantizedLinearWeights): tf.Tensor2D {
  const { quantized, bias, layout } = qw;
  const isOutIn = layout === 'out_in';
  // linearProduct's choice for a frozen weight: plain products on a kept transposed copy where the model keeps
  // one (keepsTransposedWeights), an explicit transpose on wasm without one, transpose flags elsewhere.
  const isPlain = keepsTransposedWeights() || prefersPlainProducts();
  const op = tf.customGrad((input) => {
    const product2d = tf.tidy(() => {
      if (isPlain) return tf.matMul(input as tf.Tensor2D, matrix(quantized, layout, true));
      return tf.matMul(input as tf.Tensor2D, matrix(quantized, layout, !isOutIn), false, isOutIn);
    }); // [N, out]; the dequantized matrix is freed here
    return {
      value: bias ? product2d.add(bias) : product2d,
      gradFunc: (dy: tf.Tensor) =>
        tf.tidy(() => {
          if (isPlain) return tf.matMul(dy as tf.Tensor2D, matrix(quantized, layout, false)); // [N, in]
          return tf.matMul(dy as tf.Tensor2D, matrix(quantized, layout, !isOutIn), false, !isOutIn); // [N, in]
        }),
    };
  });
  return op(x) as tf.Tensor2D;
}
