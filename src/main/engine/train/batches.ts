// Batching: which examples go together each epoch (by count, or by a padded-token budget), and collating
// a batch into right-padded ids, an attention mask, next-token labels and the loss mask.
import type { EncodedExample } from './encode';
import type { Rng } from '../../platform/rng';

export interface BatchingConfig {
  /** Examples per batch (used when batchTokens is null). */
  batchSize: number;
  /**
   * Padded-token budget per batch: examples are sorted by length and packed greedily so that
   * rows × longest row ≤ batchTokens (a longer example gets a batch of its own). Null = use batchSize.
   */
  batchTokens: number | null;
}

/**
 * The batches of one epoch as lists of indices into `examples`, in training order.
 * batchSize: the examples are shuffled and cut into consecutive groups (the last may be smaller).
 * batchTokens: the packing is fixed (sorted by length, so little padding) and the batch order is shuffled.
 * Either way the number of batches per epoch does not depend on the generator (see batchesPerEpoch).
 */
export function planEpoch(examples: readonly EncodedExample[], config: BatchingConfig, rng: Rng): number[][] {
  if (config.batchTokens !== null) return rng.shuffle(packByTokens(examples, config.batchTokens));
  const order = rng.shuffle(examples.map((_, i) => i));
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += config.batchSize) batches.push(order.slice(i, i + config.batchSize));
  return batches;
}

export function batchesPerEpoch(examples: readonly EncodedExample[], config: BatchingConfig): number {
  if (config.batchTokens !== null) return packByTokens(examples, config.batchTokens).length;
  return Math.ceil(examples.length / config.batchSize);
}

function packByTokens(examples: readonly EncodedExample[], batchTokens: number): number[][] {
  const sorted = examples.map((e, i) => ({ i, len: e.ids.length })).sort((a, b) => a.len - b.len || a.i - b.i);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const { i, len } of sorted) {
    const nextLongest = Math.max(longest, len);
    if (current.length > 0 && (current.length + 1) * nextLongest > batchTokens) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, len);
  }
  if (current.length) batches.push(current);
  return batches;
}

// ---- collation ----

/** One batch as flat row-major arrays ([B, T]); tensors are made from these inside the step's tidy. */
export interface TokenBatch {
  batchSize: number;
  seqLen: number;
  /** [B·T] token ids, right-padded with padId. */
  inputIds: Int32Array;
  /** [B·T] 1 for real tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** [B·T] the id position t should predict (ids[t + 1]); padId where there is none. */
  labels: Int32Array;
  /** [B·T] 1 where position t predicts a target token; prompt positions and padding are 0. */
  lossMask: Uint8Array;
  /** Non-padding tokens. */
  realTokens: number;
  /** Positions that count in the loss (sum of lossMask). */
  targetTokens: number;
}

export function collate(examples: readonly Pick<EncodedExample, 'ids' | 'targetStart'>[], padId: number): TokenBatch {
  const batchSize = examples.length;
  const seqLen = Math.max(1, ...examples.map((e) => e.ids.length));
  const size = batchSize * seqLen;
  const inputIds = new Int32Array(size).fill(padId);
  const attentionMask = new Int32Array(size);
  const labels = new Int32Array(size).fill(padId);
  const lossMask = new Uint8Array(size);
  let realTokens = 0;
  let targetTokens = 0;
  examples.forEach((example, row) => {
    const base = row * seqLen;
    const { ids, targetStart } = example;
    for (let t = 0; t < ids.length; t++) {
      inputIds[base + t] = ids[t];
      attentionMask[base + t] = 1;
      if (t + 1 < ids.length) {
        labels[base + t] = ids[t + 1];
        if (t + 1 >= targetStart && t + 1 >= 1) {
          lossMask[base + t] = 1;
          targetTokens++;
        }
      }
    }
    realTokens += ids.length;
  });
  return { batchSize, seqLen, inputIds, attentionMask, labels, lossMask, realTokens, targetTokens };
}

/**
 * The batch's rows cut into at most `parts` contiguous, near-equal groups (never an empty one), each a batch of
 * the same sequence length: data parallelism gives each process one.
 */
export function splitRows(batch: TokenBatch, parts: number): TokenBatch[] {
  const count = Math.max(1, Math.min(parts, batch.batchSize));
  const out: TokenBatch[] = [];
  let row = 0;
  for (let p = 0; p < count; p++) {
    const rows = Math.floor(batch.batchSize / count) + (p < batch.batchSize % count ? 1 : 0);
    const from = row * batch.seqLen;
    const to = (row + rows) * batch.seqLen;
    const attentionMask = batch.attentionMask.slice(from, to);
    const lossMask = batch.lossMask.slice(from, to);
    out.push({
      batchSize: rows,
      seqLen: batch.seqLen,
      inputIds: batch.inputIds.slice(from, to),
      attentionMask,
      labels: batch.labels.slice(from, to),
      lossMask,
      realTokens: attentionMask.reduce((sum, m) => sum + m, 0),
      targetTokens: lossMask.reduce((sum, m) => sum + m, 0),
    });
    row += rows;
  }
  return out;
}

/** The scored positions of a batch: flat index b·T + t, the label there, and the row b. */
export function scoredPositions(batch: TokenBatch): { positions: Int32Array; labels: Int32Array; rows: Int32Array } {
  const positions = new Int32Array(batch.targetTokens);
  const labels = new Int32Array(batch.targetTokens);
  const rows = new Int32Array(batch.targetTokens);
  let n = 0;
  for (let i = 0; i < batch.lossMask.length; i++) {
    if (!batch.lossMask[i]) continue;
    positions[n] = i;
    labels[n] = batch.labels[i];
    rows[n] = Math.floor(i / batch.seqLen);
    n++;
  }
  return { positions, labels, rows };
}
