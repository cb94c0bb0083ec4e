// Hugging Face configs of the shapes the benchmarks build with random weights (bench/shapes.ts), kept here so
// the tests that judge the memory estimate against those benchmarks' measurements read the same shapes.
// SmolLM-135M's is also SmolLM2-135M-Instruct's.

export const PUBLISHED_SHAPES = {
  'tiny-4x256': {
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
  'smollm-135m': {
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
  'gpt2-small': {
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
} as const satisfies Record<string, Record<string, unknown>>;

export type PublishedShape = keyof typeof PUBLISHED_SHAPES;
