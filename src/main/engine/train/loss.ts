// Cross-entropy over target tokens only. Only the N scored positions are read, so the softmax runs over N
// rows instead of all B·T positions (the trainer asks the model for those rows' logits alone, so the LM head
// skips the rest too):
//   nll_i = logsumexp(z_i) − z_i[label_i]     (logsumexp subtracts the row max: stable for any logits)
// The op has its own gradient, (softmax(z_i) − onehot(label_i))·dnll_i: it keeps the logits and logsumexp
// only, where the generic chain (max, exp, sum, log, one-hot product) keeps several [N, V] tensors, and it
// frees each [N, V] transient early (Gemma 3's 262,144-token vocabulary makes each 1 MiB a row).
// Rows are picked with models/ops' selectRows, whose gradient is a gather, never an unsortedSegmentSum
// (O(segments × size) on cpu).
import * as tf from '@tensorflow/tfjs';
import { selectRows } from '../models/ops';
import { scoredPositions, type TokenBatch } from './batches';

/**
 * Negative log-likelihood of every scored position → [N], N = batch.targetTokens. `logits` is [B, T, V] for
 * every position, or [1, N, V] for the scored positions only (forward's logitRows = scoredPositions(batch)).
 * Prompt positions and padding (lossMask 0) are never read, whatever their labels hold.
 */
export function targetNll(logits: tf.Tensor3D, batch: TokenBatch): tf.Tensor1D {
  const [batchSize, seqLen, vocabSize] = logits.shape;
  const { positions, labels } = scoredPositions(batch);
  const isSelected = batchSize === 1 && seqLen === positions.length && !(batch.batchSize === 1 && batch.seqLen === seqLen);
  if (!isSelected && (batchSize !== batch.batchSize || seqLen !== batch.seqLen)) {
    throw new Error(`logits have shape [${logits.shape.join(', ')}] but the batch is [${batch.batchSize}, ${batch.seqLen}] with ${positions.length} scored positions`);
  }
  return tf.tidy(() => {
    const flat = logits.reshape([batchSize * seqLen, vocabSize]) as tf.Tensor2D; // [B·T, V] or [N, V]
    const rows = isSelected ? flat : selectRows(flat, positions); // [N, V]
    return rowNll(rows, labels); // [N]
  });
}

/** Sum of targetNll (scalar); divide by the step's target-token count for the mean. */
export function targetNllSum(logits: tf.Tensor3D, batch: TokenBatch): tf.Scalar {
  return tf.tidy(() => targetNll(logits, batch).sum());
}

/** logits [N, V], labels [N] → nll [N] = logsumexp(z_i) − z_i[label_i]. */
function rowNll(logits: tf.Tensor2D, labels: Int32Array): tf.Tensor1D {
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
