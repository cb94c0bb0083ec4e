// The `qwen2` (and `qwen3`) architectures of a GGUF file. llama.cpp's converter (Qwen2Model, Qwen3Model) writes
// the HF weights under llama.cpp's names unchanged: no Q/K permutation (their rope is NEOX-style, HF's
// rotate-half), q/k/v biases for Qwen2, per-head q/k RMSNorm weights (attn_q_norm, attn_k_norm) for Qwen3.
import { countParameters } from '../../models/causal-lm';
import type { LlamaConfig } from '../../models/llama';
import { qwen3WeightShapes, type Qwen3Config } from '../../models/qwen3';
import type { GgufFile } from './gguf-file';
import type { GgufWeightSource } from './gguf-layout';
import { attentionShape, llamaFamilyConfig, llamaWeightSources } from './gguf-llama';
import { GgufMetadata } from './gguf-metadata';

export function qwen2ConfigFromGguf(file: GgufFile): LlamaConfig {
  return llamaFamilyConfig(new GgufMetadata(file, 'qwen2'), 'qwen2');
}

export function qwen2WeightSources(config: LlamaConfig): Map<string, GgufWeightSource> {
  return llamaWeightSources(config, false);
}

/** The Qwen3Config of a `qwen3` file: llama's keys, head size from attention.key_length, q/k norm tensors. */
export function qwen3ConfigFromGguf(file: GgufFile): Qwen3Config {
  const m = new GgufMetadata(file, 'qwen3');
  const { hidden, vocabSize } = m.embedding();
  const { heads, kvHeads, headDim } = attentionShape(m, hidden);
  if (m.int('rope.dimension_count', headDim) !== headDim) throw m.error('rope.dimension_count', `is not the head size ${headDim}; partial rotary is not supported for qwen3`);
  m.refuseRopeScaling();
  const layers = m.int('block_count');
  const config: Qwen3Config = {
    architecture: 'qwen3',
    vocabSize,
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    intermediate: m.int('feed_forward_length'),
    maxPositions: m.int('context_length', 32768),
    tiedEmbeddings: m.tiedEmbeddings(),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    ...m.specialTokens(),
    normEps: m.num('attention.layer_norm_rms_epsilon', 1e-6),
    rope: { theta: m.num('rope.freq_base', 10000), rotaryDim: headDim, scaling: null },
    attentionBias: m.hasTensor('blk.0.attn_q.bias'),
    activation: 'silu',
    // Qwen3Model's converter writes no sliding window (Qwen3 checkpoints leave use_sliding_window off).
    layerWindows: Array.from({ length: layers }, () => null),
  };
  config.parameters = countParameters(qwen3WeightShapes(config));
  return config;
}

export function qwen3WeightSources(config: Qwen3Config): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  sources.set('model.embed_tokens.weight', { tensor: 'token_embd.weight' });
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    const b = `blk.${i}`;
    const names: [string, string][] = [
      ['input_layernorm', 'attn_norm'],
      ['self_attn.q_proj', 'attn_q'],
      ['self_attn.k_proj', 'attn_k'],
      ['self_attn.v_proj', 'attn_v'],
      ['self_attn.o_proj', 'attn_output'],
      ['self_attn.q_norm', 'attn_q_norm'],
      ['self_attn.k_norm', 'attn_k_norm'],
      ['post_attention_layernorm', 'ffn_norm'],
      ['mlp.gate_proj', 'ffn_gate'],
      ['mlp.up_proj', 'ffn_up'],
      ['mlp.down_proj', 'ffn_down'],
    ];
    for (const [hf, gguf] of names) {
      sources.set(`${p}.${hf}.weight`, { tensor: `${b}.${gguf}.weight` });
      if (config.attentionBias && /_proj$/.test(hf) && hf.startsWith('self_attn')) sources.set(`${p}.${hf}.bias`, { tensor: `${b}.${gguf}.bias` });
    }
  }
  sources.set('model.norm.weight', { tensor: 'output_norm.weight' });
  if (!config.tiedEmbeddings) sources.set('lm_head.weight', { tensor: 'output.weight' });
  return sources;
}
