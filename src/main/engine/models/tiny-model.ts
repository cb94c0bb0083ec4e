// Tiny random-weight models of every family, built in memory for tests (engine and PEFT methods):
// 2 layers, width 16, seeded so every run sees the same weights.
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from './causal-lm';
import { architectureFor } from './architectures';

export type TinyArchitecture = 'llama' | 'qwen2' | 'mistral' | 'gpt2' | 'gpt_neox' | 'gemma3_text' | 'qwen3' | 'phi3';

const BASE_CONFIGS: Record<TinyArchitecture, Record<string, unknown>> = {
  llama: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 40, max_position_embeddings: 64 },
  qwen2: {
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 40,
    max_position_embeddings: 64,
    tie_word_embeddings: true,
  },
  mistral: {
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    vocab_size: 40,
    max_position_embeddings: 64,
    sliding_window: 6,
  },
  gpt2: { n_embd: 16, n_layer: 2, n_head: 4, vocab_size: 40, n_positions: 64 },
  gpt_neox: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 40, max_position_embeddings: 64, rotary_pct: 0.5 },
  // A global layer, then a sliding one whose window (4) is shorter than the tests' prefix + tokens.
  gemma3_text: {
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 4,
    vocab_size: 40,
    max_position_embeddings: 64,
    layer_types: ['full_attention', 'sliding_attention'],
    sliding_window: 4,
    query_pre_attn_scalar: 8,
  },
  // head_dim 8 ≠ 16 / 4 heads; layer 1 has a sliding window (4) shorter than the tests' prefix + tokens.
  qwen3: {
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 8,
    vocab_size: 40,
    max_position_embeddings: 64,
    use_sliding_window: true,
    sliding_window: 4,
    max_window_layers: 1,
  },
  // Partial rotary (2 of 4 dims) with longrope past original_max_position_embeddings 4 (every test sequence is longer).
  phi3: {
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 40,
    max_position_embeddings: 64,
    original_max_position_embeddings: 4,
    partial_rotary_factor: 0.5,
    rope_scaling: { type: 'longrope', short_factor: [1.5], long_factor: [3] },
  },
};

/** A 2-layer random model of `architecture`; `overrides` patch its HF config. */
export function createTinyModel(architecture: TinyArchitecture, opts: { seed?: number; overrides?: Record<string, unknown> } = {}): CausalLM {
  const spec = architectureFor(architecture)!;
  const config = spec.parseConfig({ model_type: architecture, ...BASE_CONFIGS[architecture], ...opts.overrides }, `tiny-${architecture}/config.json`);
  let seed = opts.seed ?? 1;
  const weights = new Map<string, tf.Tensor>();
  for (const [name, shape] of spec.weightShapes(config)) {
    const isNormWeight = shape.length === 1 && /(norm|ln_\d|ln_f)[^.]*\.weight$/.test(name);
    const noise = tf.randomNormal(shape, 0, isNormWeight ? 0.1 : 0.3, 'float32', seed++);
    weights.set(name, isNormWeight ? tf.tidy(() => noise.add(1)) : noise);
    if (isNormWeight) noise.dispose();
  }
  return spec.create(config, weights);
}
