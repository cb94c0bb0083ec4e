// Model shapes the benchmarks run: stories260K from ../shared (real weights) and random-init models with
// published shapes (weights of SmolLM-135M and GPT-2 small cannot be downloaded here; shapes can).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface ShapeSpec {
  name: string;
  /** A Hugging Face config; the model is built with random weights. */
  config?: Record<string, unknown>;
  /** A real model folder (or GGUF file) instead. */
  path?: string;
  /** Run only when named with --shape (a model that may not be cached). */
  explicitOnly?: boolean;
}

export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(import.meta.dirname, '../../shared');

/** Where scripts/models/fetch-models.py puts the real GGUF models (PREFIXLAB_MODEL_CACHE overrides). */
const modelCache = process.env.PREFIXLAB_MODEL_CACHE || join(homedir(), '.cache', 'prefixlab', 'models');

export const SHAPES: ShapeSpec[] = [
  { name: 'stories260K', path: resolve(sharedDir, 'models/stories260K-hf') },
  // The real GGUF models (fetch-models.py); their quantized layers can stay as blocks (--quantized-base on).
  { name: 'smollm2-135m', path: join(modelCache, 'SmolLM2-135M-Instruct.Q4_1.gguf'), explicitOnly: true },
  { name: 'gemma3-270m', path: join(modelCache, 'gemma-3-270m-q4_k_m.gguf'), explicitOnly: true },
  {
    name: 'tiny-4x256',
    config: {
      model_type: 'llama',
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      intermediate_size: 768,
      vocab_size: 2048,
      tie_word_embeddings: false,
      max_position_embeddings: 2048,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
    },
  },
  {
    name: 'smollm-135m',
    config: {
      model_type: 'llama',
      hidden_size: 576,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      intermediate_size: 1536,
      vocab_size: 49152,
      tie_word_embeddings: true,
      max_position_embeddings: 2048,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
    },
  },
  {
    name: 'gpt2-small',
    config: {
      model_type: 'gpt2',
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
      vocab_size: 50257,
      n_positions: 1024,
      n_ctx: 1024,
      layer_norm_epsilon: 1e-5,
      activation_function: 'gelu_new',
    },
  },
];
