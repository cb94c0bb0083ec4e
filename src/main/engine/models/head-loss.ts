// The LM head and the cross-entropy of the scored rows in one op, over chunks of the vocabulary, for a frozen head
// (every method but full fine-tuning). The plain chain (head product, then loss.ts's row loss) holds the logits
// [N, V] from the forward to the backward and three or four [N, V] tensors inside it: with Gemma 3's 262,144-token
// vocabulary that is 1 MiB a scored row each, most of a PEFT step's memory. Here each chunk of head rows W_c
// [c, D] is used once, in the forward, and nothing of size V survives it:
//   l_c = x·W_cᵀ (+ b_c)                                   [N, c]
//   m' = max(m, rowmax(l_c)),  α = exp(m − m'),  e = exp(l_c − m')
//   s ← s·α + rowsum(e),       G ← G·α + e·W_c             (online softmax, as flash attention does over keys)
//   nll = m + log s − x·w_label (− b_label),   dnll/dx = G/s − w_label
// The loss is the last op of a step, so its gradient is known up to each row's upstream factor dy: the forward
// keeps dnll/dx [N, D] and the backward scales it by dy. Compute equals the plain chain's (one head product each
// way), a quantized head (quantized-linear.ts) is dequantized once per step instead of twice, and the softmax's
// [N, V] passes shrink to [N, c]. Values agree with the plain chain to float32 rounding (head-loss.test.ts), and a
// quantized head gives the float32 head's values bit for bit: both go through headRows' chunks in the same order.
import * as tf from '@tensorflow/tfjs';
import { isTrainable, prefersPlainProducts, ROW_CHUNK, type LinearWeights } from './ops';
import { rowsTensor, type QuantizedLinearWeights } from './quantized-linear';

/**
 * logits [N, V], labels [N] → nll [N] = logsumexp(z_i) − z_i[label_i], with its own gradient
 * (softmax(z) − onehot)·dy that keeps the logits and logsumexp only (the generic chain keeps several [N, V]).
 */
export function rowNll(logits: tf.Tensor2D, labels: Int32Array): tf.Tensor1D {
  const [count, vocabSize] = logits.shape;
  const labelIndex = Int32Array.from(labels, (label, i) => i * vocabSize + label); // into the flattened logits
  const op = tf.customGrad((z, save) => {
    const scores = z as tf.Tensor2D;
    const rowMax = scores.max(1, true); // [N, 1]
    // tidy: the [N, V] shifted scores and their exp are freed here, not held until the backward pass ends
    const logNormaliser = tf.tidy(() => scores.sub(rowMax).exp().sum(1, true).log().add(rowMax)) as tf.Tensor2D; // [N, 1]
    const labelLogits = tf.gather(scores.reshape([count * vocabSize]), tf.tensor1d(labelIndex, 'int32')); // [N]
    (save as tf.GradSaveFunc)([scores, logNormaliser]);
    return {
      value: logNormaliser.reshape([count]).sub(labelLogits) as tf.Tensor1D, // [N]
      // (softmax(z) − onehot)·dy freeing each [N, V] step as soon as the next exists (the textbook chain in a
      // tidy held shifted, probs, one-hot, difference and product together): probs·dy everywhere, then the
      // label entries rewritten as (p − 1)·dy. Bit for bit the same values: p − 0 is p.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedScores, savedNormaliser] = saved;
        const labelIds = tf.tensor1d(labels, 'int32');
        const dyColumn = dy.reshape([count, 1]); // [N, 1]
        const shifted = savedScores.sub(savedNormaliser); // [N, V]
        const probs = shifted.exp(); // [N, V] softmax
        shifted.dispose();
        const labelProbs = tf.tidy(() => tf.gather(probs.reshape([count * vocabSize]), tf.tensor1d(labelIndex, 'int32'))); // [N]
        const scaled = probs.mul(dyColumn); // [N, V]
        probs.dispose();
        const labelGrads = tf.tidy(() => labelProbs.sub(1).mul(dy.reshape([count]))); // [N]
        const positions = tf.tidy(() => tf.stack([tf.range(0, count, 1, 'int32'), labelIds], 1)); // [N, 2]
        const grad = tf.tensorScatterUpdate(scaled, positions, labelGrads); // [N, V]
        tf.dispose([scaled, labelIds, dyColumn, labelProbs, labelGrads, positions]);
        return grad;
      },
    };
  });
  return op(logits) as tf.Tensor1D;
}

/** The rows of a frozen [V, D] head, by chunk and by label, as float32 tensors (new ones; the caller frees them). */
interface HeadRows {
  vocabSize: number;
  /** W[start:end] [end − start, D]. */
  range(start: number, end: number): tf.Tensor2D;
  /** W[labels] [N, D]. */
  pick(labels: Int32Array): tf.Tensor2D;
  bias?: tf.Tensor1D;
}

/**
 * Whether fusedHeadNll can take this head: a frozen [V, D] ('out_in') matrix, float32 or quantized, with a frozen
 * bias if any. A trainable head (full fine-tuning) needs dW, which the plain chain gives.
 */
export function canFuseHead(head: LinearWeights | QuantizedLinearWeights): boolean {
  if (head.layout !== 'out_in' || isTrainable(head.bias)) return false;
  return 'quantized' in head || !isTrainable(head.weight);
}

function headRows(head: LinearWeights | QuantizedLinearWeights): HeadRows {
  if ('quantized' in head) {
    const q = head.quantized;
    return {
      vocabSize: q.shape[0],
      range: (start, end) => rowsTensor(q, start, end),
      pick: (labels) => tf.tensor2d(q.rows(labels), [labels.length, q.shape[1]], 'float32'),
      bias: head.bias,
    };
  }
  const { weight } = head;
  const [vocabSize, width] = weight.shape;
  return {
    vocabSize,
    range: (start, end) => weight.slice([start, 0], [end - start, width]),
    pick: (labels) => tf.gather(weight, tf.tensor1d(labels, 'int32')),
    bias: head.bias,
  };
}

/**
 * x [N, D] (the scored rows' final hidden states) and their labels [N] → nll [N] under the frozen head, without
 * the [N, V] logits (see the top of this file); its gradient reaches x only. `rowChunk` sets the chunk (tests).
 */
export function fusedHeadNll(x: tf.Tensor2D, head: LinearWeights | QuantizedLinearWeights, labels: Int32Array, rowChunk = ROW_CHUNK): tf.Tensor1D {
  if (!canFuseHead(head)) throw new Error('fusedHeadNll takes a frozen [V, D] head; a trainable one goes through the logits');
  const [count] = x.shape;
  if (labels.length !== count) throw new Error(`${labels.length} labels for ${count} rows`);
  const rows = headRows(head);
  for (const label of labels) {
    if (!Number.isInteger(label) || label < 0 || label >= rows.vocabSize) throw new Error(`label ${label} is outside the head's ${rows.vocabSize} rows`);
  }
  // wasm's flagged products are 10× slower (ops.prefersPlainProducts); elsewhere the flag avoids a copy per chunk.
  const logitsOf = (input: tf.Tensor2D, chunk: tf.Tensor2D): tf.Tensor2D =>
    prefersPlainProducts() ? tf.matMul(input, chunk.transpose() as tf.Tensor2D) : tf.matMul(input, chunk, false, true); // [N, c]
  const op = tf.customGrad((input, save) => {
    const hidden = input as tf.Tensor2D;
    let rowMax: tf.Tensor2D | null = null; // m [N, 1]
    let total: tf.Tensor2D | null = null; // s [N, 1]
    let weighted: tf.Tensor2D | null = null; // G [N, D]
    try {
      for (let start = 0; start < rows.vocabSize; start += rowChunk) {
        const end = Math.min(rows.vocabSize, start + rowChunk);
        const [nextMax, nextTotal, nextWeighted] = tf.tidy(() => {
          const chunk = rows.range(start, end); // [c, D]
          const product = logitsOf(hidden, chunk);
          const logits = rows.bias ? product.add(rows.bias.slice([start], [end - start])) : product; // [N, c]
          const m = rowMax ? tf.maximum(rowMax, logits.max(1, true)) : logits.max(1, true); // [N, 1]
          const e = logits.sub(m).exp(); // [N, c]
          const contribution = tf.matMul(e, chunk); // [N, D]
          if (!rowMax || !total || !weighted) return [m, e.sum(1, true), contribution];
          const alpha = rowMax.sub(m).exp(); // [N, 1]
          return [m, total.mul(alpha).add(e.sum(1, true)), weighted.mul(alpha).add(contribution)];
        }) as tf.Tensor2D[];
        tf.dispose([rowMax, total, weighted].filter((t): t is tf.Tensor2D => t !== null));
        [rowMax, total, weighted] = [nextMax, nextTotal, nextWeighted];
      }
      const [nll, gradient] = tf.tidy(() => {
        const labelRows = rows.pick(labels); // [N, D]
        const dotted = hidden.mul(labelRows).sum(1); // [N]
        const labelLogits = rows.bias ? dotted.add(tf.gather(rows.bias, tf.tensor1d(labels, 'int32'))) : dotted; // [N]
        const logNormaliser = rowMax!.add(total!.log()).reshape([count]); // [N]
        return [logNormaliser.sub(labelLogits), weighted!.div(total!).sub(labelRows)]; // [N], [N, D]
      });
      (save as tf.GradSaveFunc)([gradient]);
      return {
        value: nll as tf.Tensor1D,
        gradFunc: (dy: tf.Tensor, [savedGradient]: tf.Tensor[]) => savedGradient.mul(dy.reshape([count, 1])), // [N, D]
      };
    } finally {
      tf.dispose([rowMax, total, weighted].filter((t): t is tf.Tensor2D => t !== null));
    }
  });
  return op(x) as tf.Tensor1D;
}
