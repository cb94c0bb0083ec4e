// Scaled dot-product self-attention shared by every family: RoPE on queries/keys, prefix keys/values,
// KV cache, grouped-query heads, the additive mask, and the attention hooks.
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from './forward-context';
import { batchedProduct } from './ops';
import { applyRotary, type RotaryTables } from './rope';

export interface AttentionOptions {
  /** Rotary tables, or null for models with learned absolute positions (GPT-2). */
  rotary: RotaryTables | null;
  /** Multiplies the scores; default 1/sqrt(d). */
  scale?: number;
}

/**
 * query [B, H, Tq, d], key/value [B, Hkv, Tq, d] (pre-RoPE projections of this call's tokens)
 * → merged head outputs [B·Tq, H·d], ready for the output projection.
 */
export function attention(ctx: ForwardContext, layer: number, query: tf.Tensor4D, key: tf.Tensor4D, value: tf.Tensor4D, opts: AttentionOptions): tf.Tensor2D {
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
  const groupedQuery = queryRot.reshape([batchSize, numKvHeads, groupSize * queryLen, headDim]) as tf.Tensor4D; // [B, Hkv, g·Tq, d]
  const scale = opts.scale ?? 1 / Math.sqrt(headDim);
  let heads: tf.Tensor4D;
  if (ctx.hooks?.onAttentionProbs) {
    const probs = attentionProbs(groupedQuery, keys, ctx.mask, scale, numHeads); // [B, H, Tq, S]
    ctx.hooks.onAttentionProbs(layer, probs);
    heads = tf.matMul(probs.reshape([batchSize, numKvHeads, groupSize * queryLen, keyLen]), values) as tf.Tensor4D; // [B, Hkv, g·Tq, d]
  } else {
    heads = scaledDotProductAttention(groupedQuery, keys, values, groupedMask(ctx, groupSize), scale); // [B, Hkv, g·Tq, d]
  }
  heads = heads.reshape([batchSize, numHeads, queryLen, headDim]); // [B, H, Tq, d]
  const extra = ctx.hooks?.attentionOutputTerm?.(layer, { queryPreRope: query, queryPostRope: queryRot }) ?? null;
  if (extra) heads = heads.add(extra); // [B, H, Tq, d]

  return heads.transpose([0, 2, 1, 3]).reshape([batchSize * queryLen, numHeads * headDim]); // [B·Tq, H·d]
}

/** softmax(q·kᵀ·scale + mask) for grouped queries q [B, Hkv, g·Tq, d], keys [B, Hkv, S, d] → [B, H, Tq, S]. */
function attentionProbs(query: tf.Tensor4D, keys: tf.Tensor4D, mask: tf.Tensor4D | null, scale: number, numHeads: number): tf.Tensor4D {
  const [batchSize, , rows] = query.shape;
  const keyLen = keys.shape[2];
  const queryLen = (rows * keys.shape[1]) / numHeads;
  let scores = tf
    .matMul(query, keys, false, true) // [B, Hkv, g·Tq, S]
    .mul(scale)
    .reshape([batchSize, numHeads, queryLen, keyLen]) as tf.Tensor4D; // [B, H, Tq, S]
  if (mask) scores = scores.add(mask); // [B, H, Tq, S]
  return tf.softmax(scores, -1) as tf.Tensor4D;
}

/**
 * softmax(q·kᵀ·scale + mask)·v as one differentiable op: query [B, Hkv, M, d] (M = g·Tq grouped query rows),
 * keys/values [B, Hkv, S, d], mask [B|1, 1, M, S] (rows grouped like the queries, see groupedMask) →
 * [B, Hkv, M, d]. It keeps q, k, v, the probabilities and the output for the backward pass, which is four
 * batched products instead of tfjs's chain of generic gradients:
 *   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dO ⊙ O))·scale,  dQ = dS·K,  dK = dSᵀ·Q
 * (rowsum(dO ⊙ O) = rowsum(dP ⊙ P), the softmax gradient's row term).
 */
export function scaledDotProductAttention(query: tf.Tensor4D, keys: tf.Tensor4D, values: tf.Tensor4D, mask: tf.Tensor4D | null, scale: number): tf.Tensor4D {
  const op = tf.customGrad((q, k, v, save) => {
    let scores = batchedProduct(q as tf.Tensor4D, k as tf.Tensor4D, false, true).mul(scale); // [B, Hkv, M, S]
    if (mask) scores = scores.add(mask);
    const probs = tf.softmax(scores, -1) as tf.Tensor4D; // [B, Hkv, M, S]
    const out = batchedProduct(probs, v as tf.Tensor4D); // [B, Hkv, M, d]
    (save as tf.GradSaveFunc)([q as tf.Tensor, k as tf.Tensor, v as tf.Tensor, probs, out]);
    return {
      value: out,
      // tidy: the tape runs gradFunc in the scope of the whole backward pass; temporaries would live until it ends.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sq, sk, sv, sp, so] = saved as tf.Tensor4D[];
          const dOut = dy as tf.Tensor4D; // [B, Hkv, M, d]
          const dValues = batchedProduct(sp, dOut, true, false); // [B, Hkv, S, d]
          const dProbs = batchedProduct(dOut, sv, false, true); // [B, Hkv, M, S]
          const rowTerm = dOut.mul(so).sum(-1, true); // [B, Hkv, M, 1]
          const dScores = sp.mul(dProbs.sub(rowTerm)).mul(scale) as tf.Tensor4D; // [B, Hkv, M, S]
          const dQuery = batchedProduct(dScores, sk); // [B, Hkv, M, d]
          const dKeys = batchedProduct(dScores, sq, true, false); // [B, Hkv, S, d]
          return [dQuery, dKeys, dValues];
        }),
    };
  });
  return op(query, keys, values) as tf.Tensor4D;
}

/** The additive mask [B|1, 1, Tq, S] with its query rows repeated for each of the groupSize heads folded into a KV head's rows: [B|1, 1, g·Tq, S]. */
function groupedMask(ctx: ForwardContext, groupSize: number): tf.Tensor4D | null {
  if (!ctx.mask || groupSize === 1) return ctx.mask;
  let grouped = ctx.groupedMasks.get(groupSize);
  if (!grouped) {
    grouped = tf.tile(ctx.mask, [1, 1, groupSize, 1]) as tf.Tensor4D; // [B|1, 1, g·Tq, S]
    ctx.groupedMasks.set(groupSize, grouped);
  }
  return grouped;
}

/** [B·T, heads·d] → [B, heads, T, d] */
export function splitHeads(x: tf.Tensor2D, batchSize: number, numHeads: number, headDim: number): tf.Tensor4D {
  return x.reshape([batchSize, -1, numHeads, headDim]).transpose([0, 2, 1, 3]); // [B, heads, T, d]
}
