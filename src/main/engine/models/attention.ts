// Scaled dot-product self-attention shared by every family: RoPE on queries/keys, prefix keys/values,
// KV cache, grouped-query heads, the additive mask, and the attention hooks.
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from './forward-context';
import { applyRotary, type RotaryTables } from './rope';

export interface AttentionOptions {
  /** Rotary tables, or null for models with learned absolute positions (GPT-2). */
  rotary: RotaryTables | null;
  /** Multiplies the scores; default 1/sqrt(d). */
  scale?: number;
}

/**
 * query [B, H, Tq, d], key/value [B, Hkv, Tq, d] (pre-RoPE projections of this call's tokens)
 * → merged head outputs [B, Tq, H·d], ready for the output projection.
 */
export function attention(
  ctx: ForwardContext,
  layer: number,
  query: tf.Tensor4D,
  key: tf.Tensor4D,
  value: tf.Tensor4D,
  opts: AttentionOptions,
): tf.Tensor3D {
  const [batchSize, numHeads, queryLen, headDim] = query.shape;
  const numKvHeads = key.shape[1];
  const groupSize = numHeads / numKvHeads;
  const queryRot = opts.rotary ? applyRotary(query, opts.rotary) : query; // [B, H, Tq, d]
  const keyRot = opts.rotary ? applyRotary(key, opts.rotary) : key; // [B, Hkv, Tq, d]

  // Prefix keys/values (no RoPE) go first; with a cache they are stored once, on the first call.
  const prefix = ctx.prefix[layer];
  let keys = prefix ? tf.concat([prefix.keys, keyRot], 2) : keyRot; // [B, Hkv, p + Tq, d]
  let values = prefix ? tf.concat([prefix.values, value], 2) : value; // [B, Hkv, p + Tq, d]
  if (ctx.cache) ({ keys, values } = ctx.cache.append(layer, keys, values)); // [B, Hkv, S, d]
  const keyLen = keys.shape[2];

  // Grouped-query attention without copying K/V: query head h uses KV head floor(h / groupSize), so the
  // groupSize query heads sharing a KV head are folded into its query rows.
  const groupedQuery = queryRot.reshape([batchSize, numKvHeads, groupSize * queryLen, headDim]); // [B, Hkv, g·Tq, d]
  const scale = opts.scale ?? 1 / Math.sqrt(headDim);
  let scores = tf
    .matMul(groupedQuery, keys, false, true) // [B, Hkv, g·Tq, S]
    .mul(scale)
    .reshape([batchSize, numHeads, queryLen, keyLen]) as tf.Tensor4D; // [B, H, Tq, S]
  if (ctx.mask) scores = scores.add(ctx.mask); // [B, H, Tq, S]
  const probs = tf.softmax(scores, -1) as tf.Tensor4D; // [B, H, Tq, S]
  ctx.hooks?.onAttentionProbs?.(layer, probs);

  let heads = tf
    .matMul(probs.reshape([batchSize, numKvHeads, groupSize * queryLen, keyLen]), values) // [B, Hkv, g·Tq, d]
    .reshape([batchSize, numHeads, queryLen, headDim]) as tf.Tensor4D; // [B, H, Tq, d]
  const extra = ctx.hooks?.attentionOutputTerm?.(layer, { queryPreRope: query, queryPostRope: queryRot }) ?? null;
  if (extra) heads = heads.add(extra); // [B, H, Tq, d]

  return heads.transpose([0, 2, 1, 3]).reshape([batchSize, queryLen, numHeads * headDim]); // [B, Tq, H·d]
}

/** [B, T, heads·d] → [B, heads, T, d] */
export function splitHeads(x: tf.Tensor3D, numHeads: number, headDim: number): tf.Tensor4D {
  const [batchSize, seqLen] = x.shape;
  return x.reshape([batchSize, seqLen, numHeads, headDim]).transpose([0, 2, 1, 3]); // [B, heads, T, d]
}
