// Per-layer sliding windows: families that mix windowed and full-attention layers (Qwen3's layer_types, Gemma 3's local layers) give
// their windowed layers a context whose mask also hides keys `window` or more positions back. prepareForward's
// own slidingWindow option covers models whose every layer shares one window (Mistral).
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from './forward-context';

/** Added to hidden scores, as forward-context.ts does (finite, so fully masked rows never give NaN). */
const MASKED = -1e9;

/**
 * `ctx` for a layer whose queries see at most `window` keys back (themselves included), as transformers'
 * sliding_window_overlay (visible iff q − k < window). Key indices count prefix and cached keys, as in
 * prepareForward. Returns ctx itself when no key can be that far back. Call inside the forward's tidy.
 */
export function slidingWindowContext(ctx: ForwardContext, window: number): ForwardContext {
  const { queryLen, keyLen } = ctx;
  if (keyLen <= window) return ctx;
  const offset = keyLen - queryLen; // key index of the first query
  const band = new Float32Array(queryLen * keyLen);
  for (let i = 0; i < queryLen; i++) {
    const last = offset + i - window; // keys at or before this index are out of the window
    for (let j = 0; j <= last && j < keyLen; j++) band[i * keyLen + j] = MASKED;
  }
  const bandMask = tf.tensor4d(band, [1, 1, queryLen, keyLen]); // [1, 1, Tq, S]
  const mask = ctx.mask ? (ctx.mask.add(bandMask) as tf.Tensor4D) : bandMask; // [B|1, 1, Tq, S]
  return { ...ctx, mask, groupedMasks: new Map() };
}
