// The `phi3` architecture of a GGUF file as our Phi3Model. llama.cpp's converter (Phi3MiniModel) keeps the fused
// projections as they are (qkv_proj → attn_qkv: query rows, then key rows, then value rows; gate_up_proj → ffn_up:
// gate rows, then up rows), so no layout is undone. Partial rotary is rope.dimension_count; longrope's factor
// lists are the rope_factors_long/short tensors, its original context rope.scaling.original_context_length and
// its attention factor rope.scaling.attn_factor.
import { ApiError } from '@shared/errors';
import { countParameters } from '../../models/causal-lm';
import { phi3WeightShapes, type Phi3Config } from '../../models/phi3';
import type { RopeScaling } from '../../models/rope';
import type { GgufFile } from './gguf-file';
import type { GgufWeightSource } from './gguf-layout';
import { attentionShape } from './gguf-llama';
import { GgufMetadata } from './gguf-metadata';
import { GgufTensorReader } from './read-tensor';

export function phi3ConfigFromGguf(file: GgufFile): Phi3Config {
  const m = new GgufMetadata(file, 'phi3');
  const { hidden, vocabSize } = m.embedding();
  const { heads, kvHeads, headDim } = attentionShape(m, hidden);
  const rotaryDim = m.int('rope.dimension_count', headDim);
  if (rotaryDim % 2 !== 0 || rotaryDim > headDim) throw m.error('rope.dimension_count', `(${rotaryDim}) must be even and at most the head size ${headDim}`);
  const maxPositions = m.int('context_length', 4096);
  // The converter writes sliding_window 0 for "none" (llama.cpp then also ignores any other value for Phi-3).
  const window = m.has('attention.sliding_window') ? Number(m.value('attention.sliding_window')) : 0;
  const config: Phi3Config = {
    architecture: 'phi3',
    vocabSize,
    hidden,
    layers: m.int('block_count'),
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
    normEps: m.num('attention.layer_norm_rms_epsilon', 1e-5),
    rope: { theta: m.num('rope.freq_base', 10000), rotaryDim, scaling: longRope(m, rotaryDim) },
    activation: 'silu',
    slidingWindow: Number.isSafeInteger(window) && window > 0 ? window : null,
  };
  config.parameters = countParameters(phi3WeightShapes(config));
  return config;
}

/** LongRoPE from the factor tensors (rotaryDim / 2 values each; two small reads) and the rope.scaling keys. */
function longRope(m: GgufMetadata, rotaryDim: number): RopeScaling | null {
  const hasLong = m.hasTensor('rope_factors_long.weight');
  if (!hasLong && !m.hasTensor('rope_factors_short.weight')) {
    m.refuseRopeScaling();
    return null;
  }
  const reader = GgufTensorReader.open(m.file);
  try {
    const factors = (name: string): number[] => {
      if (!m.hasTensor(name)) throw new ApiError('bad_file', `GGUF file has rope factors but no tensor ${name}`, { file: m.file.path, field: name });
      const { data } = reader.read(name);
      if (data.length !== rotaryDim / 2)
        throw new ApiError('bad_file', `tensor ${name} has ${data.length} values, but the rotary dimension ${rotaryDim} needs ${rotaryDim / 2}`, {
          file: m.file.path,
          field: name,
        });
      return Array.from(data);
    };
    return {
      type: 'longrope',
      longFactor: factors('rope_factors_long.weight'),
      shortFactor: factors('rope_factors_short.weight'),
      originalMaxPositions: m.int('rope.scaling.original_context_length'),
      attentionFactor: m.num('rope.scaling.attn_factor', 1),
    };
  } finally {
    reader.close();
  }
}

/** Every HF weight of `config` → its GGUF tensor (gguf-py constants.py MODEL_TENSORS[PHI3]). */
export function phi3WeightSources(config: Phi3Config): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  sources.set('model.embed_tokens.weight', { tensor: 'token_embd.weight' });
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    const b = `blk.${i}`;
    sources.set(`${p}.input_layernorm.weight`, { tensor: `${b}.attn_norm.weight` });
    sources.set(`${p}.self_attn.qkv_proj.weight`, { tensor: `${b}.attn_qkv.weight` });
    sources.set(`${p}.self_attn.o_proj.weight`, { tensor: `${b}.attn_output.weight` });
    sources.set(`${p}.post_attention_layernorm.weight`, { tensor: `${b}.ffn_norm.weight` });
    sources.set(`${p}.mlp.gate_up_proj.weight`, { tensor: `${b}.ffn_up.weight` });
    sources.set(`${p}.mlp.down_proj.weight`, { tensor: `${b}.ffn_down.weight` });
  }
  sources.set('model.norm.weight', { tensor: 'output_norm.weight' });
  if (!config.tiedEmbeddings) sources.set('lm_head.weight', { tensor: 'output.weight' });
  return sources;
}
