// The `gemma3` architecture of a GGUF file as our Gemma3Model's config and Hugging Face weight names, with
// llama.cpp's conventions (convert_hf_to_gguf.py Gemma3Model, src/llama-model.cpp LLM_ARCH_GEMMA3):
// - every `*norm.weight` is stored plus one (the converter folds Gemma3RMSNorm's 1 + w into it): undone here;
// - Q/K rows are not permuted (Gemma3Model is not a LlamaModel);
// - the metadata has no query scale, and often no local RoPE base or layer pattern: llama.cpp then takes the
//   sliding layers' base at 10000 and the pattern at 5 sliding + 1 global (none sliding without
//   attention.sliding_window), reading rope.freq_base_swa / attention.sliding_window_pattern when present, and
//   scales queries by 1/√head_size, except the 27B (62 layers) by 1/√(width / heads).
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { countParameters } from '../../models/causal-lm';
import { Gemma3Model, gemma3WeightShapes, type Gemma3Config, type Gemma3LayerType } from '../../models/gemma3';
import type { RopeScaling } from '../../models/rope';
import type { GgufFile } from './gguf-file';
import type { GgufWeightSource } from './gguf-layout';
import { attentionShape } from './gguf-llama';
import { GgufMetadata } from './gguf-metadata';

/** llama.cpp's constants for gemma3 (llama-model.cpp): not in the file's metadata. */
const LOCAL_ROPE_BASE = 10_000;
const SLIDING_WINDOW_PATTERN = 6;
const GEMMA3_27B_LAYERS = 62;

/** The Gemma3Config the file's `gemma3.*` metadata and tensor table describe. */
export function gemma3ConfigFromGguf(file: GgufFile): Gemma3Config {
  const m = new GgufMetadata(file, 'gemma3');
  const { hidden, vocabSize } = m.embedding();
  const { heads, kvHeads, headDim } = attentionShape(m, hidden);
  if (m.int('rope.dimension_count', headDim) !== headDim) throw m.error('rope.dimension_count', `is not the head size ${headDim}; partial rotary is not supported for gemma3`);
  const layers = m.int('block_count');
  const maxPositions = m.int('context_length', 131_072);
  // 0 or absent: no sliding layers (llama.cpp then treats every layer as global).
  const window = m.value('attention.sliding_window') === 0 ? null : m.has('attention.sliding_window') ? m.int('attention.sliding_window') : null;
  const pattern = m.int('attention.sliding_window_pattern', SLIDING_WINDOW_PATTERN);
  const layerTypes: Gemma3LayerType[] = Array.from({ length: layers }, (_, i) =>
    window !== null && (pattern === 0 || (i + 1) % pattern) ? 'sliding_attention' : 'full_attention',
  );
  const finalSoftcap = m.num('final_logit_softcapping', 0);
  const config: Gemma3Config = {
    architecture: 'gemma3_text',
    vocabSize,
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    intermediate: m.int('feed_forward_length'),
    maxPositions,
    tiedEmbeddings: m.tiedEmbeddings(),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    ...m.specialTokens(),
    normEps: m.num('attention.layer_norm_rms_epsilon', 1e-6),
    rope: { theta: m.num('rope.freq_base', 1_000_000), rotaryDim: headDim, scaling: ropeScaling(m) },
    localRope: { theta: m.num('rope.freq_base_swa', LOCAL_ROPE_BASE), rotaryDim: headDim, scaling: null },
    layerTypes,
    slidingWindow: window,
    queryPreAttnScalar: layers === GEMMA3_27B_LAYERS ? hidden / heads : headDim,
    attentionBias: false,
    activation: 'gelu_new',
    finalLogitSoftcap: finalSoftcap > 0 ? finalSoftcap : null,
  };
  config.parameters = countParameters(gemma3WeightShapes(config));
  return config;
}

/** rope.scaling.type: none, or linear with rope.scaling.factor (the global layers only, as llama.cpp). */
function ropeScaling(m: GgufMetadata): RopeScaling | null {
  const type = m.value('rope.scaling.type');
  if (m.hasTensor('rope_freqs.weight') || (type !== undefined && type !== 'none' && type !== 'linear')) {
    throw new ApiError('unsupported', `GGUF rope scaling ${JSON.stringify(type ?? 'rope_freqs')} is not supported for gemma3 (supported: none, linear)`, {
      file: m.file.path,
      field: m.key('rope.scaling.type'),
    });
  }
  if (type !== 'linear') return null;
  const factor = m.num('rope.scaling.factor', 1);
  if (factor <= 0) throw m.error('rope.scaling.factor', `must be positive, got ${factor}`);
  return factor === 1 ? null : { type: 'linear', factor };
}

/** Every HF weight of `config` → its GGUF tensor (gguf-py constants.py MODEL_TENSORS[GEMMA3]). */
export function gemma3WeightSources(config: Gemma3Config): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  sources.set('model.embed_tokens.weight', { tensor: 'token_embd.weight' });
  const names: [string, string][] = [
    ['input_layernorm', 'attn_norm'],
    ['self_attn.q_proj', 'attn_q'],
    ['self_attn.k_proj', 'attn_k'],
    ['self_attn.v_proj', 'attn_v'],
    ['self_attn.o_proj', 'attn_output'],
    ['self_attn.q_norm', 'attn_q_norm'],
    ['self_attn.k_norm', 'attn_k_norm'],
    ['post_attention_layernorm', 'post_attention_norm'],
    ['pre_feedforward_layernorm', 'ffn_norm'],
    ['mlp.gate_proj', 'ffn_gate'],
    ['mlp.up_proj', 'ffn_up'],
    ['mlp.down_proj', 'ffn_down'],
    ['post_feedforward_layernorm', 'post_ffw_norm'],
  ];
  for (let i = 0; i < config.layers; i++) {
    for (const [hf, gguf] of names) sources.set(`model.layers.${i}.${hf}.weight`, { tensor: `blk.${i}.${gguf}.weight` });
  }
  sources.set('model.norm.weight', { tensor: 'output_norm.weight' });
  if (!config.tiedEmbeddings) sources.set('lm_head.weight', { tensor: 'output.weight' });
  return sources;
}

/** The model over the file's weights, each norm weight first given back its Hugging Face value (stored w + 1). */
export function createGemma3FromGguf(config: Gemma3Config, weights: Map<string, tf.Tensor>): Gemma3Model {
  for (const [name, weight] of weights) {
    if (!name.endsWith('norm.weight')) continue;
    weights.set(
      name,
      tf.tidy(() => weight.sub(1)),
    );
    weight.dispose();
  }
  return new Gemma3Model(config, weights);
}
