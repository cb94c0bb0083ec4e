// Choosing the next token from one row of logits, in transformers' order: repetition penalty, then
// greedy argmax or temperature → top-k → top-p → a draw from a seeded generator.
import { Rng } from '../platform/rng';

export interface SamplingOptions {
  /** Argmax decoding; otherwise sample. */
  isGreedy: boolean;
  temperature: number;
  /** Keep the k most likely tokens (0 = off). */
  topK: number;
  /** Keep the smallest set of tokens whose probability reaches topP (1 = off). */
  topP: number;
  /** > 1 discourages tokens already in the sequence (CTRL-style, as transformers). 1 = off. */
  repetitionPenalty: number;
}

/** Floats in [0, 1) from the one seeded generator (platform/rng.ts): the same draws on every platform. */
export function createRng(seed: number): () => number {
  const rng = Rng.fromSeed(seed);
  return () => rng.next();
}

/** Picks a token from `logits` (one row, not modified); `seen` are the ids of the sequence so far. */
export function pickToken(logits: Float32Array, seen: Iterable<number>, opts: SamplingOptions, rng: () => number): number {
  let scores = logits;
  if (opts.repetitionPenalty !== 1) {
    scores = logits.slice();
    for (const id of new Set(seen)) {
      const s = scores[id];
      scores[id] = s > 0 ? s / opts.repetitionPenalty : s * opts.repetitionPenalty;
    }
  }
  if (opts.isGreedy || opts.temperature <= 0) return argmax(scores);

  // Candidates sorted by score, cut to top-k.
  let order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
  if (opts.topK > 0 && opts.topK < order.length) order = order.slice(0, opts.topK);
  const maxScore = scores[order[0]];
  let probs = order.map((id) => Math.exp((scores[id] - maxScore) / opts.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (opts.topP < 1) {
    let cumulative = 0;
    let keep = 0;
    while (keep < order.length && cumulative < opts.topP * total) cumulative += probs[keep++];
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, order.length);
    total = probs.reduce((a, b) => a + b, 0);
  }
  let draw = rng() * total;
  for (let i = 0; i < order.length; i++) {
    draw -= probs[i];
    if (draw < 0) return order[i];
  }
  return order[order.length - 1];
}

/** Index of the largest value; the first one on ties (as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
