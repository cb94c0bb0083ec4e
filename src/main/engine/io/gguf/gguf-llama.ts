// The `llama` architecture of a GGUF file as our LlamaModel's config and Hugging Face weight names (and the
// config reader `qwen2` shares, gguf-qwen.ts). llama.cpp's converter (convert_hf_to_gguf.py,
// LlamaModel.permute) reorders the rows of q_proj and k_proj within each head from rotate-half order to
// interleaved pairs; unpermuteRows (gguf-layout.ts) undoes that, so the weights equal the HF ones.
import { countParameters } from '../../models/causal-lm';
import { llamaWeightShapes, type LlamaConfig } from '../../models/llama';
import type { GgufFile } from './gguf-file';
import type { GgufWeightSource } from './gguf-layout';
import { GgufMetadata } from './gguf-metadata';

export type { GgufWeightSource } from './gguf-layout';
export { unpermuteRows } from './gguf-layout';

/** Query heads, key/value heads and head size from `attention.*`, checked against each other and the width. */
export function attentionShape(m: GgufMetadata, hidden: number): { heads: number; kvHeads: number; headDim: number } {
  const heads = m.int('attention.head_count');
  const kvHeads = m.int('attention.head_count_kv', heads);
  if (heads % kvHeads !== 0) throw m.error('attention.head_count_kv', `(${kvHeads}) does not divide attention.head_count (${heads})`);
  if (!m.value('attention.key_length') && hidden % heads !== 0) throw m.error('attention.head_count', `(${heads}) does not divide embedding_length (${hidden})`);
  const headDim = m.int('attention.key_length', hidden / heads);
  if (m.int('attention.value_length', headDim) !== headDim) throw m.error('attention.value_length', `differs from the key length ${headDim}, which ${m.arch} does not support`);
  if (headDim % 2 !== 0) throw m.error('attention.key_length', `(${headDim}) must be even for rotary embeddings`);
  return { heads, kvHeads, headDim };
}

/** The LlamaConfig a `llama` or `qwen2` file's metadata and tensor table describe. */
export function llamaFamilyConfig(m: GgufMetadata, architecture: 'llama' | 'qwen2'): LlamaConfig {
  const { hidden, vocabSize } = m.embedding();
  const { heads, kvHeads, headDim } = attentionShape(m, hidden);
  if (m.int('rope.dimension_count', headDim) !== headDim) throw m.error('rope.dimension_count', `is not the head size ${headDim}; partial rotary is not supported for ${m.arch}`);
  m.refuseRopeScaling();
  const config: LlamaConfig = {
    architecture,
    vocabSize,
    hidden,
    layers: m.int('block_count'),
    heads,
    kvHeads,
    headDim,
    intermediate: m.int('feed_forward_length'),
    maxPositions: m.int('context_length', 2048),
    tiedEmbeddings: m.tiedEmbeddings(),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    ...m.specialTokens(),
    normEps: m.num('attention.layer_norm_rms_epsilon', 1e-5),
    rope: { theta: m.num('rope.freq_base', 10000), rotaryDim: headDim, scaling: null },
    // Biases are where the file has them (Qwen2 always has q/k/v biases; attention_bias llamas all four).
    qkvBias: m.hasTensor('blk.0.attn_q.bias'),
    outputBias: m.hasTensor('blk.0.attn_output.bias'),
    mlpBias: m.hasTensor('blk.0.ffn_up.bias'),
    activation: 'silu',
    slidingWindow: null,
  };
  config.parameters = countParameters(llamaWeightShapes(config));
  return config;
}

/** The LlamaConfig the file's `llama.*` metadata and tensor table describe. */
export function llamaConfigFromGguf(file: GgufFile): LlamaConfig {
  return llamaFamilyConfig(new GgufMetadata(file, 'llama'), 'llama');
}

/**
 * Every HF weight of `config` → its GGUF tensor (llama.cpp's tensor names, gguf-py constants.py MODEL_TENSORS).
 * `permuteQk`: the converter permuted q/k rows (llama's LlamaModel does; Qwen2Model, whose rope is NEOX-style
 * like HF's rotate-half, does not).
 */
export function llamaWeightSources(config: LlamaConfig, permuteQk = config.architecture === 'llama'): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  const permute = (heads: number): { permuteHeads?: number } => (permuteQk ? { permuteHeads: heads } : {});
  sources.set('model.embed_tokens.weight', { tensor: 'token_embd.weight' });
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    const b = `blk.${i}`;
    sources.set(`${p}.input_layernorm.weight`, { tensor: `${b}.attn_norm.weight` });
    for (const [proj, gguf, heads] of [
      ['q_proj', 'attn_q', config.heads],
      ['k_proj', 'attn_k', config.kvHeads],
      ['v_proj', 'attn_v', 0],
    ] as const) {
      sources.set(`${p}.self_attn.${proj}.weight`, { tensor: `${b}.${gguf}.weight`, ...(heads ? permute(heads) : {}) });
      if (config.qkvBias) sources.set(`${p}.self_attn.${proj}.bias`, { tensor: `${b}.${gguf}.bias`, ...(heads ? permute(heads) : {}) });
    }
    sources.set(`${p}.self_attn.o_proj.weight`, { tensor: `${b}.attn_output.weight` });
    if (config.outputBias) sources.set(`${p}.self_attn.o_proj.bias`, { tensor: `${b}.attn_output.bias` });
    sources.set(`${p}.post_attention_layernorm.weight`, { tensor: `${b}.ffn_norm.weight` });
    for (const [proj, gguf] of [
      ['gate_proj', 'ffn_gate'],
      ['up_proj', 'ffn_up'],
      ['down_proj', 'ffn_down'],
    ] as const) {
      sources.set(`${p}.mlp.${proj}.weight`, { tensor: `${b}.${gguf}.weight` });
      if (config.mlpBias) sources.set(`${p}.mlp.${proj}.bias`, { tensor: `${b}.${gguf}.bias` });
    }
  }
  sources.set('model.norm.weight', { tensor: 'output_norm.weight' });
  if (!config.tiedEmbeddings) sources.set('lm_head.weight', { tensor: 'output.weight' });
  return sources;
}
