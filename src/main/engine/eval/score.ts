// Log-likelihood of target tokens given their prompts, batched: the primitive behind eval loss,
// label-likelihood classification (classify.ts).
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import { collate, scoredPositions } from '../train/batches';
import type { EncodedExample } from '../train/encode';
import { targetNll } from '../train/loss';

export interface SequenceScore {
  /** Σ log p(target token | everything before it), in nats (≤ 0). */
  sumLogProb: number;
  /** Target tokens scored. */
  tokens: number;
}

export interface ScoreOptions {
  hooks?: ModelHooks;
  batchSize: number;
  padId: number;
  signal?: AbortSignal;
}

/**
 * Scores every sequence's target tokens (ids[targetStart..]). Sequences are batched by length (less
 * padding); results come back in input order.
 */
export async function scoreSequences(model: CausalLM, sequences: readonly Pick<EncodedExample, 'ids' | 'targetStart'>[], opts: ScoreOptions): Promise<SequenceScore[]> {
  const results: SequenceScore[] = new Array(sequences.length);
  const order = sequences.map((s, i) => ({ i, len: s.ids.length })).sort((a, b) => a.len - b.len || a.i - b.i);
  for (let start = 0; start < order.length; start += opts.batchSize) {
    if (opts.signal?.aborted) throw new Error('scoring was cancelled');
    const members = order.slice(start, start + opts.batchSize).map((o) => o.i);
    const batch = collate(
      members.map((i) => sequences[i]),
      opts.padId,
    );
    const nll = tf.tidy(() => {
      const inputIds = tf.tensor2d(batch.inputIds, [batch.batchSize, batch.seqLen], 'int32'); // [B, T]
      const attentionMask = tf.tensor2d(batch.attentionMask, [batch.batchSize, batch.seqLen], 'int32'); // [B, T]
      if (batch.targetTokens === 0) return tf.zeros([0]);
      // The LM head runs on the scored positions only (as in training): most of a prompt's positions are never
      // read, and with a large vocabulary (Gemma 3's 262,144) the head is most of the forward pass.
      const logits = model.forward(inputIds, { attentionMask, hooks: opts.hooks, logitRows: scoredPositions(batch).positions }); // [1, N, V]
      return targetNll(logits, batch); // [N], in lossMask order
    });
    const values = await nll.data();
    nll.dispose();
    // Per-row sums on the host: N is small, and tf.unsortedSegmentSum has no wasm kernel.
    const sums = new Float64Array(batch.batchSize);
    for (let i = 0, k = 0; i < batch.lossMask.length; i++) if (batch.lossMask[i]) sums[Math.floor(i / batch.seqLen)] += values[k++]!;
    members.forEach((index, row) => {
      let tokens = 0;
      for (let t = 0; t < batch.seqLen; t++) tokens += batch.lossMask[row * batch.seqLen + t];
      results[index] = { sumLogProb: -sums[row], tokens };
    });
  }
  return results;
}

/** Mean negative log-likelihood per target token over all scores (NaN when nothing was scored). */
export function meanNll(scores: readonly SequenceScore[]): number {
  let nll = 0;
  let tokens = 0;
  for (const s of scores) {
    nll -= s.sumLogProb;
    tokens += s.tokens;
  }
  return tokens ? nll / tokens : NaN;
}
