// Cross-entropy over target tokens only. The logits of the scored positions are selected first, so the
// softmax runs over N target rows instead of all B·T positions:
//   nll_i = logsumexp(z_i) − z_i[label_i]     (logsumexp subtracts the row max: stable for any logits)
// Selection is a product with one-hot matrices rather than tf.gather: gather's gradient is an
// unsortedSegmentSum, which tfjs's cpu backend runs in O(segments × size) — 30× slower than the whole
// forward pass here — while a one-hot product's gradient is one small matmul/mul.
import * as tf from '@tensorflow/tfjs';
import { scoredPositions, type TokenBatch } from './batches';

/**
 * Negative log-likelihood of every scored position. logits [B, T, V] → [N], N = batch.targetTokens.
 * Prompt positions and padding (lossMask 0) are never read, whatever their labels hold.
 */
export function targetNll(logits: tf.Tensor3D, batch: TokenBatch): tf.Tensor1D {
  const [batchSize, seqLen, vocabSize] = logits.shape;
  if (batchSize !== batch.batchSize || seqLen !== batch.seqLen) {
    throw new Error(`logits have shape [${logits.shape.join(', ')}] but the batch is [${batch.batchSize}, ${batch.seqLen}]`);
  }
  const { positions, labels } = scoredPositions(batch);
  const count = positions.length;
  return tf.tidy(() => {
    const flat = logits.reshape([batchSize * seqLen, vocabSize]) as tf.Tensor2D; // [B·T, V]
    const select = tf.oneHot(tf.tensor1d(positions, 'int32'), batchSize * seqLen, 1, 0, 'float32') as tf.Tensor2D; // [N, B·T]
    const rows = tf.matMul(select, flat); // [N, V]
    const logNormaliser = tf.logSumExp(rows, 1) as tf.Tensor1D; // [N]
    const labelMask = tf.oneHot(tf.tensor1d(labels, 'int32'), vocabSize, 1, 0, 'float32'); // [N, V]
    const labelLogits = rows.mul(labelMask).sum(1) as tf.Tensor1D; // [N]
    return logNormaliser.sub(labelLogits); // [N]
  });
}

/** Sum of targetNll (scalar); divide by the step's target-token count for the mean. */
export function targetNllSum(logits: tf.Tensor3D, batch: TokenBatch): tf.Scalar {
  return tf.tidy(() => targetNll(logits, batch).sum());
}
