// Cross-entropy over target tokens only. Only the N scored positions are read, so the softmax runs over N
// rows instead of all B·T positions (the trainer asks the model for those rows' logits alone, so the LM head
// skips the rest too):
//   nll_i = logsumexp(z_i) − z_i[label_i]     (logsumexp subtracts the row max: stable for any logits)
// The row loss (models/head-loss.ts rowNll) has its own gradient, (softmax(z_i) − onehot(label_i))·dnll_i, which
// keeps the logits and logsumexp only. Training asks the model for the losses themselves (forward's
// targetLabels), which for a frozen head never builds the logits at all (head-loss.ts fusedHeadNll).
// Rows are picked with models/ops' selectRows, whose gradient is a gather, never an unsortedSegmentSum
// (O(segments × size) on cpu).
import * as tf from '@tensorflow/tfjs';
import { rowNll } from '../models/head-loss';
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
