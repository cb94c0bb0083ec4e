// Products in the form each backend runs fast, with gradients that use only such forms. tfjs's wasm backend
// reaches XNNPACK's GEMM only for a plain, unbatched a·b: a transpose flag or a batch dimension falls back to
// a scalar loop ~10× slower. So on wasm a transposed operand is transposed explicitly (or kept transposed by
// the model), and a batched product runs as a depthwise convolution, which XNNPACK executes as a grouped GEMM.
// Native TensorFlow also gets kept transposed weights; otherwise it and cpu take tf.matMul as is. Also shares
// buffers in wasm's Identity (see below).
import * as tf from '@tensorflow/tfjs';
import { dropoutMultiplier } from './dropout-mask';

/** True on backends where only plain unbatched products are fast (wasm). */
export function prefersPlainProducts(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * True where a model should keep its linear weights in both layouts: wasm (transposed products are 10×
 * slower) and native TensorFlow on the CPU (MatMul with transpose_b measured ~1.4× slower than on a
 * transposed copy). Not on a CUDA device, whose GEMMs take transposes at no cost and whose memory is scarcer.
 */
export function keepsTransposedWeights(): boolean {
  const backend = tf.getBackend();
  if (backend === 'tensorflow') return !(tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  return backend === 'wasm';
}

export function isTrainable(tensor: tf.Tensor | undefined): boolean {
  return tensor instanceof tf.Variable && tensor.trainable;
}

// ---- wasm Identity ----

let isIdentityShared = false;

/**
 * The gradient tape clones every tensor a gradient needs; tfjs's cpu and webgl backends make a clone share
 * the buffer (tensors are immutable), wasm's Identity copies it — one full copy of every saved activation
 * per step. Re-registers wasm's Identity to share the buffer the way its own Reshape does. Idempotent.
 */
export function shareWasmIdentity(): void {
  if (isIdentityShared || tf.getBackend() !== 'wasm') return;
  const original = tf.getKernel('Identity', 'wasm');
  if (!original) return;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') return original.kernelFunc(args);
      (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  });
  isIdentityShared = true;
}

// ---- 2-D products ----

/** op(a)·op(b) for [M, K]-style matrices, never through a slow path; no gradient of its own. */
export function product(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  if (!prefersPlainProducts() || (!transposeA && !transposeB)) return tf.matMul(a, b, transposeA, transposeB);
  return tf.matMul(transposeA ? a.transpose() : a, transposeB ? b.transpose() : b);
}

/**
 * Differentiable tf.matMul(a, b, transposeA, transposeB) for 2-D operands whose gradients also avoid the slow
 * forms (for trainable weights: LoRA's A and B, kernels, full fine-tuning).
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  if (!prefersPlainProducts()) return tf.matMul(a, b, transposeA, transposeB);
  const op = tf.customGrad((left, right, save) => {
    const x = left as tf.Tensor2D;
    const y = right as tf.Tensor2D;
    (save as tf.GradSaveFunc)([x, y]);
    return {
      value: product(x, y, transposeA, transposeB),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sa, sb] = saved as tf.Tensor2D[];
          const g = dy as tf.Tensor2D;
          // The four cases of d(op(a)·op(b)).
          if (!transposeA && !transposeB) return [product(g, sb, false, true), product(sa, g, true, false)];
          if (!transposeA && transposeB) return [product(g, sb), product(g, sa, true, false)];
          if (transposeA && !transposeB) return [product(sb, g, false, true), product(sa, g)];
          return [product(sb, g, true, true), product(g, sa, true, true)];
        }),
    };
  });
  return op(a, b) as tf.Tensor2D;
}

// ---- batched products ----

/** Multiply-adds below which wasm's batched scalar loop beats the transposes and convolution set-up. */
const SMALL_PRODUCT = 1 << 16;

/**
 * op(a)·op(b) over leading batch axes: a [.., M, K] (or [.., K, M] with transposeA), b [.., K, N] (or
 * [.., N, K] with transposeB), same leading axes → [.., M, N]. No gradient of its own (use inside custom
 * gradients). On wasm the leading axes become one group axis G and the product a depthwise convolution: input
 * [1, K, M, G] (channel g = group), filter [K, 1, G, N] (channel multiplier N) gives
 * out[0, 0, m, g·N + n] = Σ_k a[g, m, k]·b[g, k, n].
 */
export function batchedProduct<T extends tf.Tensor>(a: T, b: T, transposeA = false, transposeB = false): T {
  if (!prefersPlainProducts()) return tf.matMul(a, b, transposeA, transposeB) as unknown as T;
  const lead = a.shape.slice(0, -2);
  const groups = lead.reduce((x, y) => x * y, 1);
  const [rowsA, colsA] = a.shape.slice(-2);
  const multiplyAdds = groups * rowsA * colsA * b.shape[transposeB ? b.rank - 2 : b.rank - 1];
  // Tiny products (decoding one token) cost less in the scalar loop than in five extra kernels.
  if (multiplyAdds < SMALL_PRODUCT) return tf.matMul(a, b, transposeA, transposeB) as unknown as T;
  const a3 = a.reshape([groups, ...a.shape.slice(-2)]) as tf.Tensor3D;
  const b3 = b.reshape([groups, ...b.shape.slice(-2)]) as tf.Tensor3D;
  let out: tf.Tensor3D;
  if (groups === 1) {
    const a2 = a3.reshape(a3.shape.slice(1) as [number, number]) as tf.Tensor2D;
    const b2 = b3.reshape(b3.shape.slice(1) as [number, number]) as tf.Tensor2D;
    out = product(a2, b2, transposeA, transposeB).expandDims(0) as tf.Tensor3D; // [1, M, N]
  } else {
    const input = (transposeA ? a3.transpose([1, 2, 0]) : a3.transpose([2, 1, 0])) as tf.Tensor3D; // [K, M, G]
    const filter = (transposeB ? b3.transpose([2, 0, 1]) : b3.transpose([1, 0, 2])) as tf.Tensor3D; // [K, G, N]
    const [inner, rows] = input.shape;
    const cols = filter.shape[2];
    const conv = tf.depthwiseConv2d(input.reshape([1, inner, rows, groups]) as tf.Tensor4D, filter.reshape([inner, 1, groups, cols]) as tf.Tensor4D, 1, 'valid'); // [1, 1, M, G·N]
    out = conv.reshape([rows, groups, cols]).transpose([1, 0, 2]) as tf.Tensor3D; // [G, M, N]
  }
  return out.reshape([...lead, out.shape[1], out.shape[2]]) as unknown as T;
}

/** Differentiable a [G, M, K] · b [G, K, N] → [G, M, N] whose gradients are batchedProducts too. */
export function batchMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (!prefersPlainProducts()) return tf.matMul(a, b);
  const op = tf.customGrad((left, right, save) => {
    (save as tf.GradSaveFunc)([left as tf.Tensor, right as tf.Tensor]);
    return {
      value: batchedProduct(left as tf.Tensor3D, right as tf.Tensor3D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sa, sb] = saved as tf.Tensor3D[];
          return [batchedProduct(dy as tf.Tensor3D, sb, false, true), batchedProduct(sa, dy as tf.Tensor3D, true, false)];
        }),
    };
  });
  return op(a, b) as tf.Tensor3D;
}

// ---- linear layers ----

/** A linear layer's tensors. They must outlive the backward pass (model weights): its gradient reads them. */
export interface LinearWeights {
  /** In the model's layout: 'out_in' (torch Linear [out, in]) or 'in_out' (GPT-2 Conv1D [in, out]). */
  weight: tf.Tensor2D;
  layout: 'out_in' | 'in_out';
  bias?: tf.Tensor1D;
  /** The weight in the other layout when the model keeps such a copy (keepsTransposedWeights), else null. */
  transposed?: () => tf.Tensor2D | null;
}

/**
 * Rows of an [out, in] matrix per piece of a product over `out`, for matrices with more rows than this (LM
 * heads: Gemma 3 has 262,144). The backward product dy·W contracts over `out`; taking it as a sum of per-chunk products in a
 * fixed order gives the same floats whether the chunks are slices of a float32 weight or dequantized one at a
 * time (quantized-linear.ts), so a quantized head never holds its whole float32 matrix.
 */
export const ROW_CHUNK = 16_384;

/**
 * dy [N, out] · W [out, in] → [N, in] as Σ_c dy[:, c]·W[c] over chunks of ROW_CHUNK rows, in order. `rows(start,
 * end)` gives W[start:end] (a new tensor; disposed here).
 */
export function chunkedRowProduct(dy: tf.Tensor2D, outputs: number, rows: (start: number, end: number) => tf.Tensor2D, rowChunk = ROW_CHUNK): tf.Tensor2D {
  let sum: tf.Tensor2D | null = null;
  for (let start = 0; start < outputs; start += rowChunk) {
    const end = Math.min(outputs, start + rowChunk);
    const previous = sum;
    const next = tf.tidy(() => {
      const part = tf.matMul(dy.slice([0, start], [dy.shape[0], end - start]), rows(start, end)); // [N, in]
      return previous ? previous.add(part) : part;
    }) as tf.Tensor2D;
    sum?.dispose();
    sum = next;
  }
  return sum!;
}

/**
 * x [N, in] → x·Wᵀ + b [N, out] (or x·W + b for 'in_out'). For a frozen weight the gradient is dx only: one
 * product with the weight in the layout that needs no transpose flag (over row chunks for a large [out, in]
 * matrix: chunkedRowProduct), and nothing is saved for it (the generic matMul gradient would keep x and W).
 * Trainable weights (full fine-tuning) go through matMul2d.
 */
export function linearProduct(x: tf.Tensor2D, lw: LinearWeights, rowChunk = ROW_CHUNK): tf.Tensor2D {
  const { weight, bias, layout } = lw;
  const isOutIn = layout === 'out_in';
  if (isTrainable(weight) || isTrainable(bias)) {
    const product2d = matMul2d(x, weight, false, isOutIn); // [N, out]
    return bias ? product2d.add(bias) : product2d;
  }
  const kept = keepsTransposedWeights() ? (lw.transposed?.() ?? null) : null;
  // Without a kept copy, wasm still transposes explicitly (its flagged product is 10× slower); others use flags.
  const isPlain = kept !== null || prefersPlainProducts();
  // Only long-lived tensors may be captured by the gradient: the weight and the model's kept copy.
  const inOut = (): tf.Tensor2D => (isOutIn ? (kept ?? weight.transpose()) : weight); // [in, out]
  const outIn = (): tf.Tensor2D => (isOutIn ? weight : (kept ?? weight.transpose())); // [out, in]
  const [outputs, inputs] = weight.shape;
  const isChunked = isOutIn && outputs > rowChunk;
  const op = tf.customGrad((input) => {
    const product2d = isPlain ? tf.matMul(input as tf.Tensor2D, inOut()) : tf.matMul(input as tf.Tensor2D, weight, false, isOutIn); // [N, out]
    return {
      value: bias ? product2d.add(bias) : product2d,
      gradFunc: (dy: tf.Tensor) =>
        tf.tidy(() => {
          if (isChunked) return chunkedRowProduct(dy as tf.Tensor2D, outputs, (start, end) => weight.slice([start, 0], [end - start, inputs]), rowChunk);
          return isPlain ? tf.matMul(dy as tf.Tensor2D, outIn()) : tf.matMul(dy as tf.Tensor2D, weight, false, !isOutIn);
        }), // [N, in]
    };
  });
  return op(x) as tf.Tensor2D;
}

// ---- embedding lookup ----

/**
 * table [V, D] rows for integer ids [..] → [.., D]. When the table is trainable (full fine-tuning) its
 * gradient is one scatterND that sums dy's rows by id: tf.gather's own gradient is unsortedSegmentSum, which
 * the wasm backend lacks and cpu runs in O(segments × size).
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (!isTrainable(table)) return tf.gather(table, ids);
  const [vocabSize, width] = table.shape;
  const op = tf.customGrad((t, i, save) => {
    (save as tf.GradSaveFunc)([i as tf.Tensor]);
    return {
      value: tf.gather(t as tf.Tensor2D, i as tf.Tensor), // [.., D]
      gradFunc: (dy: tf.Tensor, [savedIds]: tf.Tensor[]) =>
        tf.tidy(() => [
          tf.scatterND(savedIds.reshape([-1, 1]), dy.reshape([-1, width]), [vocabSize, width]), // [V, D], duplicates summed
          tf.zerosLike(savedIds),
        ]),
    };
  });
  return op(table, ids);
}

// ---- row selection ----

/**
 * x [R, D] → rows [N, D] = x[rows[i]] for distinct row indices. Its gradient scatters back with a gather from
 * [dy; 0] (an index per row of x), where tf.gather's own gradient (unsortedSegmentSum) is slow on cpu and wasm.
 */
export function selectRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const [count, width] = x.shape;
  const op = tf.customGrad((input) => {
    const picked = tf.gather(input as tf.Tensor2D, tf.tensor1d(rows, 'int32')); // [N, D]
    return {
      value: picked,
      gradFunc: (dy: tf.Tensor) =>
        tf.tidy(() => {
          const source = new Int32Array(count).fill(rows.length); // row N of [dy; 0] is zero
          rows.forEach((row, i) => (source[row] = i));
          const padded = tf.concat([dy as tf.Tensor2D, tf.zeros([1, width])], 0); // [N + 1, D]
          return tf.gather(padded, tf.tensor1d(source, 'int32')); // [R, D]
        }),
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * tf.dropout(x, rate, seed)'s values (its multiplier from dropout-mask.ts), with a gradient that keeps only the
 * multiplier: tf.dropout's tape keeps the uniform draw, the mask, the multiplier and x until the backward pass ends,
 * each the size of x (LoRA drops every adapted module's input, two modules a layer by default).
 */
export function dropoutKeepingMask<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  const op = tf.customGrad((input, save) => {
    const multiplier = dropoutMultiplier((input as tf.Tensor).shape, rate, seed);
    (save as tf.GradSaveFunc)([multiplier]);
    return { value: (input as tf.Tensor).mul(multiplier), gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => dy.mul(saved) };
  });
  return op(x) as T;
}

/** x·s for a constant s, keeping nothing for the backward pass (tf's mul keeps x). */
export function scaleBy<T extends tf.Tensor>(x: T, s: number): T {
  const op = tf.customGrad((input) => ({ value: (input as tf.Tensor).mul(s), gradFunc: (dy: tf.Tensor) => dy.mul(s) }));
  return op(x) as T;
}
