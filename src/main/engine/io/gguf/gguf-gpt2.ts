// The `gpt2` architecture of a GGUF file as our Gpt2Model. llama.cpp's converter (GPT2Model.modify_tensors)
// transposes the Conv1D matrices (c_attn, c_proj, c_fc: HF [in, out]) to linear layout; the loader transposes
// them back. Its tensors: token_embd, position_embd, attn_qkv (fused, as c_attn), attn_output, ffn_up, ffn_down,
// LayerNorms with biases; output.weight only when the head is untied.
import { countParameters } from '../../models/causal-lm';
import { gpt2WeightShapes, type Gpt2Config } from '../../models/gpt2';
import type { GgufFile } from './gguf-file';
import type { GgufWeightSource } from './gguf-layout';
import { GgufMetadata } from './gguf-metadata';

export function gpt2ConfigFromGguf(file: GgufFile): Gpt2Config {
  const m = new GgufMetadata(file, 'gpt2');
  const { hidden, vocabSize } = m.embedding();
  const heads = m.int('attention.head_count');
  if (hidden % heads !== 0) throw m.error('attention.head_count', `(${heads}) does not divide embedding_length (${hidden})`);
  if (m.int('attention.head_count_kv', heads) !== heads)
    throw m.error('attention.head_count_kv', `must equal attention.head_count (${heads}): GPT-2 has no grouped-query attention`);
  const config: Gpt2Config = {
    architecture: 'gpt2',
    vocabSize,
    hidden,
    layers: m.int('block_count'),
    heads,
    kvHeads: heads,
    headDim: hidden / heads,
    // The converter writes 4·n_embd whatever n_inner says; llama.cpp sizes ffn_up by this key, and so do we
    // (the shape check then names a file whose key and tensors disagree).
    intermediate: m.int('feed_forward_length'),
    // llama.cpp sizes position_embd by the context length (n_ctx_train), as GPT-2's n_positions.
    maxPositions: m.int('context_length'),
    tiedEmbeddings: m.tiedEmbeddings(),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    ...m.specialTokens(),
    normEps: m.num('attention.layer_norm_epsilon', 1e-5),
    // llama.cpp's GPT-2 graph: GELU (tanh approximation, HF's gelu_new), scores scaled by 1/√headDim.
    activation: 'gelu_new',
    scaleByInverseLayer: false,
    scaleAttention: true,
  };
  config.parameters = countParameters(gpt2WeightShapes(config));
  return config;
}

/** Every HF weight of `config` → its GGUF tensor (gguf-py constants.py MODEL_TENSORS[GPT2]). */
export function gpt2WeightSources(config: Gpt2Config): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  sources.set('transformer.wte.weight', { tensor: 'token_embd.weight' });
  sources.set('transformer.wpe.weight', { tensor: 'position_embd.weight' });
  for (let i = 0; i < config.layers; i++) {
    const p = `transformer.h.${i}`;
    const b = `blk.${i}`;
    for (const [hf, gguf, transpose] of [
      ['ln_1', 'attn_norm', false],
      ['attn.c_attn', 'attn_qkv', true],
      ['attn.c_proj', 'attn_output', true],
      ['ln_2', 'ffn_norm', false],
      ['mlp.c_fc', 'ffn_up', true],
      ['mlp.c_proj', 'ffn_down', true],
    ] as const) {
      sources.set(`${p}.${hf}.weight`, { tensor: `${b}.${gguf}.weight`, ...(transpose ? { transpose } : {}) });
      sources.set(`${p}.${hf}.bias`, { tensor: `${b}.${gguf}.bias` });
    }
  }
  sources.set('transformer.ln_f.weight', { tensor: 'output_norm.weight' });
  sources.set('transformer.ln_f.bias', { tensor: 'output_norm.bias' });
  if (!config.tiedEmbeddings) sources.set('lm_head.weight', { tensor: 'output.weight' });
  return sources;
}
