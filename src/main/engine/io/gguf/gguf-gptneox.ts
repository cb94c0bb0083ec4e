// The `gptneox` architecture of a GGUF file as our GptNeoxModel. llama.cpp's converter
// (GPTNeoXModel.modify_tensors) regroups the fused query_key_value rows from per-head [heads, 3, headDim] to
// [3, heads, headDim] (all queries, then keys, then values), weight and bias; the loader regroups them back.
// Partial rotary is `rope.dimension_count`, the parallel residual `use_parallel_residual`.
import { countParameters } from '../../models/causal-lm';
import { gptNeoxWeightShapes, type GptNeoxConfig } from '../../models/gpt-neox';
import type { GgufFile } from './gguf-file';
import type { GgufWeightSource } from './gguf-layout';
import { GgufMetadata } from './gguf-metadata';

export function gptNeoxConfigFromGguf(file: GgufFile): GptNeoxConfig {
  const m = new GgufMetadata(file, 'gptneox');
  const { hidden, vocabSize } = m.embedding();
  const heads = m.int('attention.head_count');
  if (hidden % heads !== 0) throw m.error('attention.head_count', `(${heads}) does not divide embedding_length (${hidden})`);
  if (m.int('attention.head_count_kv', heads) !== heads)
    throw m.error('attention.head_count_kv', `must equal attention.head_count (${heads}): GPT-NeoX has no grouped-query attention`);
  const headDim = hidden / heads;
  const rotaryDim = m.int('rope.dimension_count', headDim);
  if (rotaryDim % 2 !== 0 || rotaryDim > headDim) throw m.error('rope.dimension_count', `(${rotaryDim}) must be even and at most the head size ${headDim}`);
  m.refuseRopeScaling();
  const config: GptNeoxConfig = {
    architecture: 'gpt_neox',
    vocabSize,
    hidden,
    layers: m.int('block_count'),
    heads,
    kvHeads: heads,
    headDim,
    intermediate: m.int('feed_forward_length'),
    maxPositions: m.int('context_length', 2048),
    // llama.cpp requires output.weight for gptneox; a file without one is read as a tied head.
    tiedEmbeddings: m.tiedEmbeddings(),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    ...m.specialTokens(),
    normEps: m.num('attention.layer_norm_epsilon', 1e-5),
    // The converter writes no rope.freq_base for gptneox; llama.cpp then uses 10000, as Pythia does.
    rope: { theta: m.num('rope.freq_base', 10000), rotaryDim, scaling: null },
    // GGUF does not record hidden_act; Pythia's is the exact (erf) GELU. llama.cpp computes the tanh approximation.
    activation: 'gelu',
    parallelResidual: m.bool('use_parallel_residual', true),
    attentionBias: m.hasTensor('blk.0.attn_qkv.bias'),
  };
  config.parameters = countParameters(gptNeoxWeightShapes(config));
  return config;
}

/** Every HF weight of `config` → its GGUF tensor (gguf-py constants.py MODEL_TENSORS[GPTNEOX]). */
export function gptNeoxWeightSources(config: GptNeoxConfig): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  sources.set('gpt_neox.embed_in.weight', { tensor: 'token_embd.weight' });
  for (let i = 0; i < config.layers; i++) {
    const p = `gpt_neox.layers.${i}`;
    const b = `blk.${i}`;
    for (const [hf, gguf] of [
      ['input_layernorm', 'attn_norm'],
      ['post_attention_layernorm', 'ffn_norm'],
      ['mlp.dense_h_to_4h', 'ffn_up'],
      ['mlp.dense_4h_to_h', 'ffn_down'],
    ] as const) {
      sources.set(`${p}.${hf}.weight`, { tensor: `${b}.${gguf}.weight` });
      sources.set(`${p}.${hf}.bias`, { tensor: `${b}.${gguf}.bias` });
    }
    sources.set(`${p}.attention.query_key_value.weight`, { tensor: `${b}.attn_qkv.weight`, neoxQkvHeads: config.heads });
    sources.set(`${p}.attention.dense.weight`, { tensor: `${b}.attn_output.weight` });
    if (config.attentionBias) {
      sources.set(`${p}.attention.query_key_value.bias`, { tensor: `${b}.attn_qkv.bias`, neoxQkvHeads: config.heads });
      sources.set(`${p}.attention.dense.bias`, { tensor: `${b}.attn_output.bias` });
    }
  }
  sources.set('gpt_neox.final_layer_norm.weight', { tensor: 'output_norm.weight' });
  sources.set('gpt_neox.final_layer_norm.bias', { tensor: 'output_norm.bias' });
  if (!config.tiedEmbeddings) sources.set('embed_out.weight', { tensor: 'output.weight' });
  return sources;
}
