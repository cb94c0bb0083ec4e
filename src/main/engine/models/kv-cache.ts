// Keys and values of earlier tokens, per layer, so decoding feeds one token per step instead of the whole
// sequence. Also remembers which cached keys are padding and how many are prefix / virtual tokens.
import * as tf from '@tensorflow/tfjs';

export class KVCache {
  /** Per layer [B, Hkv, S, d], post-RoPE. */
  readonly keys: (tf.Tensor4D | null)[];
  /** Per layer [B, Hkv, S, d]. */
  readonly values: (tf.Tensor4D | null)[];
  /** [B, S]: 1 visible, 0 padding; null while every cached key is visible. */
  keyMask: tf.Tensor2D | null = null;
  /** Keys cached so far (S), counting prefix keys and virtual prompt tokens. */
  length = 0;
  /** Prefix-tuning keys at the front of the cache. */
  prefixLength = 0;
  /** Prompt-tuning virtual tokens after the prefix. */
  virtualTokens = 0;
  batchSize: number | null = null;

  constructor(readonly layers: number) {
    this.keys = new Array(layers).fill(null);
    this.values = new Array(layers).fill(null);
  }

  /** Real (non-prefix, non-virtual) tokens cached so far, padding included. */
  get tokenCount(): number {
    return this.length - this.prefixLength - this.virtualTokens;
  }

  /**
   * Appends this step's keys/values of `layer` and returns the full ones. The stored tensors are kept
   * (they outlive any tidy around the forward pass); the replaced ones are disposed.
   */
  append(layer: number, keys: tf.Tensor4D, values: tf.Tensor4D): { keys: tf.Tensor4D; values: tf.Tensor4D } {
    const oldKeys = this.keys[layer];
    const oldValues = this.values[layer];
    const allKeys = tf.keep(oldKeys ? tf.concat([oldKeys, keys], 2) : keys.clone()); // [B, Hkv, S, d]
    const allValues = tf.keep(oldValues ? tf.concat([oldValues, values], 2) : values.clone()); // [B, Hkv, S, d]
    oldKeys?.dispose();
    oldValues?.dispose();
    this.keys[layer] = allKeys;
    this.values[layer] = allValues;
    return { keys: allKeys, values: allValues };
  }

  setKeyMask(mask: tf.Tensor2D | null): void {
    if (mask === this.keyMask) return;
    this.keyMask?.dispose();
    this.keyMask = mask ? tf.keep(mask.clone()) : null;
  }

  dispose(): void {
    for (let i = 0; i < this.layers; i++) {
      this.keys[i]?.dispose();
      this.values[i]?.dispose();
      this.keys[i] = null;
      this.values[i] = null;
    }
    this.keyMask?.dispose();
    this.keyMask = null;
    this.length = 0;
    this.prefixLength = 0;
    this.virtualTokens = 0;
    this.batchSize = null;
  }
}
