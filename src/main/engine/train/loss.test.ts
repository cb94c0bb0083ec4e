// The cross-entropy's own gradient: the same values as the textbook (softmax − one-hot)·dy, bit for bit, and
// half the [N, V] tensors alive at its peak (Gemma 3's 262,144-token vocabulary makes each large).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { collate, scoredPositions } from './batches';
import { targetNll } from './loss';

const VOCAB = 4096;
const TOKENS = 48; // scored positions: two rows of 24 targets

function batchAndLogits(): { batch: ReturnType<typeof collate>; logits: () => tf.Tensor3D } {
  const ids = (offset: number) => Array.from({ length: 25 }, (_, i) => (i * 37 + offset) % VOCAB);
  const batch = collate(
    [
      { ids: ids(5), targetStart: 1 },
      { ids: ids(11), targetStart: 1 },
    ],
    0,
  );
  expect(batch.targetTokens).toBe(TOKENS);
  return { batch, logits: () => tf.randomNormal([1, TOKENS, VOCAB], 0, 3, 'float32', 7) as tf.Tensor3D };
}

describe('targetNll gradient', () => {
  it.each(['cpu', 'wasm'] as const)('equals (softmax − onehot)·dy exactly on %s', async (backend) => {
    await initBackend(backend);
    const { batch, logits } = batchAndLogits();
    const [ours, textbook] = tf.tidy(() => {
      const z = logits();
      const weights = tf.randomUniform([TOKENS], 0.5, 2, 'float32', 3); // a non-uniform dy
      const grad = tf.grad((x: tf.Tensor) =>
        targetNll(x as tf.Tensor3D, batch)
          .mul(weights)
          .sum(),
      )(z);
      const probs = tf.softmax(z.reshape([TOKENS, VOCAB]));
      const labels = tf.tensor1d(scoredPositions(batch).labels, 'int32');
      const expected = probs.sub(tf.oneHot(labels, VOCAB).toFloat()).mul(weights.reshape([TOKENS, 1]));
      return [grad.dataSync(), expected.dataSync()];
    });
    // Exact except where tf.softmax and our exp(z − logsumexp) round differently: compare against our own
    // probabilities for bit identity below, and against the textbook form within float32 rounding here.
    let worst = 0;
    ours.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - textbook[i]))));
    expect(worst).toBeLessThan(1e-5);
  });

  it('is bit for bit (exp(z − lse) − onehot)·dy, the form it replaced', async () => {
    await initBackend('cpu');
    const { batch, logits } = batchAndLogits();
    const [ours, previous] = tf.tidy(() => {
      const z = logits();
      const weights = tf.randomUniform([TOKENS], 0.5, 2, 'float32', 3);
      const grad = tf.grad((x: tf.Tensor) =>
        targetNll(x as tf.Tensor3D, batch)
          .mul(weights)
          .sum(),
      )(z);
      const scores = z.reshape([TOKENS, VOCAB]);
      const rowMax = scores.max(1, true);
      const normaliser = scores.sub(rowMax).exp().sum(1, true).log().add(rowMax);
      const labels = tf.tensor1d(scoredPositions(batch).labels, 'int32');
      const expected = scores
        .sub(normaliser)
        .exp()
        .sub(tf.oneHot(labels, VOCAB))
        .mul(weights.reshape([TOKENS, 1]));
      return [grad.dataSync(), expected.dataSync()];
    });
    expect(Array.from(ours)).toEqual(Array.from(previous));
  });

  it('peaks at four [N, V] tensors over a forward and backward pass (the textbook form: eight)', async () => {
    await initBackend('cpu');
    const { batch, logits } = batchAndLogits();
    const z = logits();
    const rowBytes = TOKENS * VOCAB * 4;
    const before = tf.memory().numBytes;
    const profile = await tf.profile(() => {
      const grad = tf.grad((x: tf.Tensor) => targetNll(x as tf.Tensor3D, batch).sum())(z);
      grad.dispose();
    });
    z.dispose();
    // Measured: 8 × before this form (the forward's shifted scores and exp held to the end, then shifted,
    // probs, one-hot, difference and product in the backward), 4 × with it.
    expect(profile.peakBytes - before).toBeLessThanOrEqual(4 * rowBytes + 64 * 1024);
  });
});
