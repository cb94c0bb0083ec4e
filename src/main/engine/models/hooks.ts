// Extension points through which PEFT methods change a model's forward pass without editing model files.
// Every hook is optional; a model calls a hook only when it is set. Hooks run inside the model's forward
// (inside its tf.tidy and any gradient tape around it): they return new tensors and never dispose inputs.
// Tensors a hook creates are freed when forward returns; tf.keep what must outlive it.
import type * as tf from '@tensorflow/tfjs';

export interface QueryViews {
  /** The head's query projection of the normed hidden state, before rotary embedding. [B, H, T, d] */
  queryPreRope: tf.Tensor4D;
  /** The same after rotary embedding (equal to queryPreRope for models without RoPE). [B, H, T, d] */
  queryPostRope: tf.Tensor4D;
}

export interface PrefixKeyValues {
  /** [B, Hkv, p, d]; no rotary embedding is applied to them. */
  keys: tf.Tensor4D;
  /** [B, Hkv, p, d] */
  values: tf.Tensor4D;
}

export interface ModelHooks {
  /**
   * Prefix-Tuning+: a term added to each head's attention output before the output projection W_O.
   * Returns [B, H, T, d], or null to add nothing in this layer.
   */
  attentionOutputTerm?(layer: number, query: QueryViews): tf.Tensor4D | null;

  /**
   * Prefix-Tuning: p key/value vectors per KV head prepended in every layer (same p in all layers).
   * They get no rotary embedding and are visible to every token; real tokens then take positions
   * p, p+1, … as in PEFT (transformers derives position ids from the past length p). With a KVCache the
   * hook is called on the first forward only and the prefix stays in the cache.
   */
  prefixKeyValues?(layer: number, batchSize: number): PrefixKeyValues | null;

  /**
   * Prompt Tuning: p virtual token embeddings [B, p, D] prepended to the token embeddings. Positions run
   * over prompt + input; the forward returns logits for the real tokens only ([B, T, V]). With a KVCache the
   * hook is called on the first forward only.
   */
  inputPrefixEmbeddings?(batchSize: number): tf.Tensor3D | null;

  /**
   * LoRA: wraps every linear layer. `name` is the Hugging Face module path (e.g.
   * 'model.layers.0.self_attn.q_proj', 'transformer.h.0.attn.c_attn'); `x` is [N, in] and `base(x)` the
   * frozen layer's output [N, out]. Returns [N, out].
   */
  wrapLinear?(name: string, x: tf.Tensor2D, base: (x: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D;

  /**
   * Whether wrapLinear changes the layer `name` (a hook that wraps only some layers says which). The LM head's
   * fused loss (head-loss.ts) bypasses wrapLinear, so it runs only where this answers false; a hook with
   * wrapLinear and without this method is taken to wrap every layer.
   */
  wrapsLinear?(name: string): boolean;

  /**
   * Diagnostic: attention probabilities [B, H, T, S] (S = prefix + cached + current keys) of each layer.
   * Disposed when forward returns: read them here (dataSync) or tf.keep a clone.
   */
  onAttentionProbs?(layer: number, probs: tf.Tensor4D): void;
}
