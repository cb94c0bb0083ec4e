// What every layer of one forward call shares: position ids, the additive attention mask, the prefix
// keys/values and the cache. Built once per call by prepareForward, the same way for every family.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { ForwardOptions, ModelConfig } from './causal-lm';
import type { ModelHooks, PrefixKeyValues } from './hooks';
import type { KVCache } from './kv-cache';
import type { RecomputeSession } from './block-recompute';

/** Added to masked scores; finite so fully masked (padding) rows give a uniform softmax, never NaN. */
const MASKED = -1e9;

export interface ForwardContext {
  batchSize: number;
  /** Query positions this call: virtual prompt tokens + real tokens. */
  queryLen: number;
  /** Virtual prompt tokens at the front of the queries (sliced off before the LM head). */
  virtualTokens: number;
  /** Total keys each query attends over (prefix + cached + this call). */
  keyLen: number;
  /** Position ids [B|1, queryLen] int32. */
  positions: tf.Tensor2D;
  /** Additive mask [B|1, 1, queryLen, keyLen], or null when every key is visible to every query. */
  mask: tf.Tensor4D | null;
  /** The mask with its rows repeated per grouped-query head, by group size; built by the first layer that needs it. */
  groupedMasks: Map<number, tf.Tensor4D>;
  /** Prefix keys/values per layer when they are not already in the cache. */
  prefix: (PrefixKeyValues | null)[];
  cache?: KVCache;
  hooks?: ModelHooks;
  /** Set when blocks recompute their activations in the backward pass (ForwardOptions.recompute). */
  recompute?: RecomputeSession;
}

export interface PrepareOptions {
  /** Mistral-style sliding window: a query sees at most this many keys back (itself included). */
  slidingWindow?: number | null;
}

/**
 * Prepends virtual prompt embeddings (Prompt Tuning) to `tokenEmbeddings` [B, T, D], fetches prefix
 * keys/values (Prefix Tuning), and computes positions and mask. Updates the cache's bookkeeping (length,
 * key mask); layers then append their keys/values through attention().
 */
export function prepareForward(
  config: ModelConfig,
  inputIds: tf.Tensor2D,
  tokenEmbeddings: tf.Tensor3D,
  opts: ForwardOptions,
  prepare: PrepareOptions = {},
): { ctx: ForwardContext; hidden: tf.Tensor3D } {
  const [batchSize, seqLen] = inputIds.shape;
  const { cache, hooks } = opts;
  if (cache && cache.batchSize !== null && cache.batchSize !== batchSize) {
    throw new ApiError('invalid_argument', `batch size ${batchSize} does not match the cache's ${cache.batchSize}`);
  }
  const isFirstCall = !cache || cache.length === 0;

  // ---- prompt tuning: virtual tokens before the input ----
  let hidden = tokenEmbeddings;
  let virtualTokens = 0;
  const virtual = isFirstCall ? (hooks?.inputPrefixEmbeddings?.(batchSize) ?? null) : null;
  if (virtual) {
    expectShape(virtual.shape, [batchSize, -1, config.hidden], 'inputPrefixEmbeddings');
    virtualTokens = virtual.shape[1];
    hidden = tf.concat([virtual, tokenEmbeddings], 1); // [B, p + T, D]
  }

  // ---- prefix tuning: keys/values per layer ----
  const prefix: (PrefixKeyValues | null)[] = new Array(config.layers).fill(null);
  let prefixLen = 0;
  if (isFirstCall && hooks?.prefixKeyValues) {
    for (let layer = 0; layer < config.layers; layer++) {
      const kv = hooks.prefixKeyValues(layer, batchSize);
      if (!kv) continue;
      expectShape(kv.keys.shape, [batchSize, config.kvHeads, -1, config.headDim], `prefixKeyValues(${layer}).keys`);
      expectShape(kv.values.shape, kv.keys.shape, `prefixKeyValues(${layer}).values`);
      if (prefixLen && kv.keys.shape[2] !== prefixLen) {
        throw new ApiError('invalid_argument', `prefixKeyValues gave ${kv.keys.shape[2]} tokens in layer ${layer} but ${prefixLen} before`);
      }
      prefixLen = kv.keys.shape[2];
      prefix[layer] = kv;
    }
    if (prefixLen && prefix.some((kv) => kv === null)) {
      throw new ApiError('invalid_argument', 'prefixKeyValues must give a prefix in every layer or in none');
    }
  }

  const pastLen = cache?.length ?? 0;
  const queryLen = virtualTokens + seqLen;
  const keyLen = pastLen + prefixLen + queryLen;

  // ---- key mask [B, keyLen]: prefix, cached keys, virtual tokens, new tokens ----
  let keyMask: tf.Tensor2D | null = null;
  if (opts.attentionMask || cache?.keyMask) {
    const parts: tf.Tensor2D[] = [];
    if (pastLen) parts.push(cache?.keyMask ?? tf.ones([batchSize, pastLen]));
    if (prefixLen + virtualTokens) parts.push(tf.ones([batchSize, prefixLen + virtualTokens]));
    parts.push(newTokenMask(opts.attentionMask, batchSize, seqLen, cache));
    keyMask = parts.length === 1 ? parts[0] : tf.concat(parts, 1); // [B, S]
  }

  // ---- positions: count of visible keys before each query (prefix included, as in PEFT) ----
  let positions: tf.Tensor2D;
  if (keyMask) {
    const visibleBefore = tf.cumsum(keyMask, 1).sub<tf.Tensor2D>(1); // [B, S]
    positions = visibleBefore
      .slice([0, keyLen - queryLen], [batchSize, queryLen])
      .maximum(0)
      .toInt() as tf.Tensor2D; // [B, Tq]
  } else {
    positions = tf.range(pastLen + prefixLen, keyLen, 1, 'int32').expandDims(0) as tf.Tensor2D; // [1, Tq]
  }
  if (opts.positionOffset) positions = positions.add(tf.scalar(opts.positionOffset, 'int32'));

  // ---- additive mask [B|1, 1, Tq, S] ----
  let mask = causalMask(queryLen, keyLen, prepare.slidingWindow ?? null);
  if (keyMask) {
    const padding = tf.scalar(1).sub(keyMask).mul(MASKED).reshape([batchSize, 1, 1, keyLen]) as tf.Tensor4D; // [B, 1, 1, S]
    mask = mask ? mask.add(padding) : padding; // [B, 1, Tq, S]
  }

  if (cache) {
    cache.batchSize = batchSize;
    cache.setKeyMask(keyMask);
    cache.length = keyLen;
    cache.prefixLength += prefixLen;
    cache.virtualTokens += virtualTokens;
  }
  return {
    ctx: { batchSize, queryLen, virtualTokens, keyLen, positions, mask, groupedMasks: new Map(), prefix, cache, hooks, recompute: opts.recompute },
    hidden,
  };
}

/** The mask's columns for this call's real tokens: [B, T] ones when none is given. */
function newTokenMask(mask: tf.Tensor2D | undefined, batchSize: number, seqLen: number, cache?: KVCache): tf.Tensor2D {
  if (!mask) return tf.ones([batchSize, seqLen]);
  const [rows, cols] = mask.shape;
  const fullCols = (cache?.tokenCount ?? 0) + seqLen;
  if (rows !== batchSize || (cols !== seqLen && cols !== fullCols)) {
    throw new ApiError('invalid_argument', `attentionMask has shape [${rows}, ${cols}]; expected [${batchSize}, ${seqLen}] or [${batchSize}, ${fullCols}]`);
  }
  const columns = cols === seqLen ? mask : mask.slice([0, cols - seqLen], [batchSize, seqLen]); // [B, T]
  return columns.toFloat();
}

/** Causal (and sliding-window) mask [1, 1, Tq, S] for queries at the end of the key sequence; null when all visible. */
function causalMask(queryLen: number, keyLen: number, slidingWindow: number | null): tf.Tensor4D | null {
  const offset = keyLen - queryLen;
  const isWindowed = slidingWindow !== null && keyLen > slidingWindow;
  if (queryLen === 1 && !isWindowed) return null;
  const values = new Float32Array(queryLen * keyLen);
  for (let i = 0; i < queryLen; i++) {
    const queryIndex = offset + i;
    for (let j = 0; j < keyLen; j++) {
      const isVisible = j <= queryIndex && (!isWindowed || queryIndex - j < (slidingWindow as number));
      if (!isVisible) values[i * keyLen + j] = MASKED;
    }
  }
  return tf.tensor4d(values, [1, 1, queryLen, keyLen]);
}

function expectShape(actual: number[], expected: number[], what: string): void {
  const ok = actual.length === expected.length && expected.every((d, i) => d === -1 || d === actual[i]);
  if (!ok) {
    const want = expected.map((d) => (d === -1 ? '*' : d)).join(', ');
    throw new ApiError('invalid_argument', `${what} has shape [${actual.join(', ')}], expected [${want}]`);
  }
}
