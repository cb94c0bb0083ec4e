// The diagnostic of method.md §1 and its Prefix-Tuning+ counterpart, on real inputs:
// - Prefix-Tuning: α_i = share of token i's attention probability that falls on the p prefix keys,
//   Σ_{j<p} softmax_ij, averaged over heads, per layer and position (read through hooks.onAttentionProbs).
//   Large α: the prefix drowns the input; small α at late positions: the input drowns the prefix.
// - Prefix-Tuning+: per layer and position, ‖φ(q_i)ᵀM‖ / ‖attn_i‖ — the norm of the memory read-out over
//   the norm of the ordinary attention output, both over all heads (the W_O input, H·d values). Read through
//   the adapter's attentionOutputTerm (wrapped) and the attention output projection's wrapLinear.
// Texts run one at a time (no padding); values at a position are averaged over the texts that reach it.
import * as tf from '@tensorflow/tfjs';
import type { TextTokenizer } from '../io/tokenizer';
import { attentionOutputProjection } from '../methods/common';
import type { PeftAdapter } from '../methods/method';
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';

export interface PositionProfile {
  /** [layer][position]: the mean over texts (NaN where no text reaches the position or the layer is not adapted). */
  byLayer: number[][];
  /** [layer]: the mean over every token of every text. */
  layerMeans: number[];
  /** [position]: how many texts reach it. */
  counts: number[];
}

interface Accumulator {
  sums: Float64Array[];
  totals: Float64Array;
  tokenCounts: Float64Array;
  counts: number[];
}

function accumulator(layers: number, maxLength: number): Accumulator {
  return {
    sums: Array.from({ length: layers }, () => new Float64Array(maxLength)),
    totals: new Float64Array(layers),
    tokenCounts: new Float64Array(layers),
    counts: new Array(maxLength).fill(0),
  };
}

function profile(acc: Accumulator, seen: Set<number>): PositionProfile {
  const used = acc.counts.findIndex((c) => c === 0);
  const length = used < 0 ? acc.counts.length : used;
  return {
    byLayer: acc.sums.map((row, layer) => Array.from(row.subarray(0, length), (v, i) => (seen.has(layer) ? v / acc.counts[i] : NaN))),
    layerMeans: acc.sums.map((_, layer) => (seen.has(layer) && acc.tokenCounts[layer] ? acc.totals[layer] / acc.tokenCounts[layer] : NaN)),
    counts: acc.counts.slice(0, length),
  };
}

/** A per-position value [1, T] one layer produced during a forward pass (kept past the pass's tidy). */
interface Captured {
  layer: number;
  values: tf.Tensor;
}

/** Runs one text through the model with `hooks` (which fill `captured`), then adds what they captured to `acc`. */
async function forwardAndAccumulate(model: CausalLM, ids: number[], hooks: ModelHooks, captured: Captured[], acc: Accumulator, seen: Set<number>): Promise<void> {
  try {
    tf.tidy(() => {
      model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { hooks, logits: 'last' });
    });
    for (const { layer, values: tensor } of captured) {
      const values = await tensor.data();
      seen.add(layer);
      for (let i = 0; i < values.length; i++) {
        acc.sums[layer][i] += values[i];
        acc.totals[layer] += values[i];
      }
      acc.tokenCounts[layer] += values.length;
    }
  } finally {
    tf.dispose(captured.map((c) => c.values));
  }
  for (let i = 0; i < ids.length; i++) acc.counts[i] += 1;
}

function encodeTexts(tokenizer: TextTokenizer, texts: readonly string[], maxLength: number): number[][] {
  return texts.map((t) => tokenizer.encode(t).slice(0, maxLength)).filter((ids) => ids.length > 0);
}

/** α per layer and position for a Prefix-Tuning adapter (method 'prefix'). */
export async function prefixAttentionMass(
  model: CausalLM,
  adapter: PeftAdapter,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  opts: { maxLength?: number } = {},
): Promise<PositionProfile & { prefixLength: number }> {
  if (adapter.method !== 'prefix') throw new Error(`prefixAttentionMass needs a prefix adapter, got ${adapter.method}`);
  const maxLength = Math.min(opts.maxLength ?? 128, model.config.maxPositions);
  const acc = accumulator(model.config.layers, maxLength);
  const seen = new Set<number>();
  let prefixLength = 0;
  for (const ids of encodeTexts(tokenizer, texts, maxLength)) {
    const captured: Captured[] = [];
    const hooks: ModelHooks = {
      ...adapter.hooks,
      onAttentionProbs: (layer, probs) => {
        adapter.hooks.onAttentionProbs?.(layer, probs);
        const [batchSize, numHeads, queryLen, keyLen] = probs.shape;
        const p = keyLen - queryLen; // no cache: keys = prefix + this call's tokens
        prefixLength = p;
        const mass = p > 0 ? probs.slice([0, 0, 0, 0], [batchSize, numHeads, queryLen, p]).sum(-1).mean(1) : tf.zeros([batchSize, queryLen]); // [1, T]
        captured.push({ layer, values: tf.keep(mass) });
      },
    };
    await forwardAndAccumulate(model, ids, hooks, captured, acc, seen);
  }
  return { ...profile(acc, seen), prefixLength };
}

/** ‖φ(q)ᵀM‖ / ‖attn‖ per layer and position for a Prefix-Tuning+ adapter (method 'ptplus'). */
export async function ptplusMemoryRatio(
  model: CausalLM,
  adapter: PeftAdapter,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  opts: { maxLength?: number } = {},
): Promise<PositionProfile> {
  if (adapter.method !== 'ptplus') throw new Error(`ptplusMemoryRatio needs a ptplus adapter, got ${adapter.method}`);
  const { layers, architecture, heads, headDim } = model.config;
  const maxLength = Math.min(opts.maxLength ?? 128, model.config.maxPositions);
  const projections = new Map(Array.from({ length: layers }, (_, layer) => [attentionOutputProjection(architecture, layer), layer]));
  const acc = accumulator(layers, maxLength);
  const seen = new Set<number>();
  const base = adapter.hooks;
  for (const ids of encodeTexts(tokenizer, texts, maxLength)) {
    const terms = new Map<number, tf.Tensor4D>();
    const captured: Captured[] = [];
    const hooks: ModelHooks = {
      ...base,
      attentionOutputTerm: (layer, query) => {
        const term = base.attentionOutputTerm?.(layer, query) ?? null;
        if (term) terms.set(layer, term);
        return term;
      },
      wrapLinear: (name, x, linear) => {
        const layer = projections.get(name);
        const term = layer === undefined ? undefined : terms.get(layer);
        if (layer !== undefined && term) {
          const [batchSize, , seqLen] = term.shape;
          const merged = term.transpose([0, 2, 1, 3]).reshape([batchSize * seqLen, heads * headDim]); // [N, H·d], rows as x
          const termNorm = merged.square().sum(-1).sqrt(); // [N]
          const attnNorm = x.sub(merged).square().sum(-1).sqrt(); // [N]
          captured.push({ layer, values: tf.keep(termNorm.div(attnNorm.add(1e-12))) });
        }
        return base.wrapLinear ? base.wrapLinear(name, x, linear) : linear(x);
      },
    };
    await forwardAndAccumulate(model, ids, hooks, captured, acc, seen);
  }
  return profile(acc, seen);
}
