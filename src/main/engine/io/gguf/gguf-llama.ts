// The `llama` architecture of a GGUF file as our LlamaModel's config and Hugging Face weight names. llama.cpp's
// converter (convert_hf_to_gguf.py, LlamaModel.permute) reorders the rows of q_proj and k_proj within each head
// from rotate-half order to interleaved pairs; unpermuteRows undoes that, so the weights equal the HF ones.
import { ApiError } from '@shared/errors';
import { countParameters } from '../../models/causal-lm';
import { llamaWeightShapes, type LlamaConfig } from '../../models/llama';
import type { GgufFile, GgufValue } from './gguf-file';

/** Where a Hugging Face weight lives in the GGUF file, and the heads its rows are permuted over (q/k only). */
export interface GgufWeightSource {
  tensor: string;
  permuteHeads?: number;
}

/** Reads `${arch}.KEY` metadata with one clear error naming the key. */
class GgufMetadata {
  constructor(
    private readonly file: GgufFile,
    private readonly arch: string,
  ) {}

  value(key: string): GgufValue | undefined {
    return this.file.metadata[key.startsWith('tokenizer.') ? key : `${this.arch}.${key}`];
  }

  int(key: string, fallback?: number): number {
    const value = this.value(key);
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw this.error(key, 'is missing');
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw this.error(key, `must be a positive integer, got ${shown(value)}`);
    return value;
  }

  num(key: string, fallback: number): number {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.error(key, `must be a finite number, got ${shown(value)}`);
    return value;
  }

  tokenId(key: string): number | null {
    const value = this.value(key);
    if (value === undefined) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw this.error(key, `must be a token id, got ${shown(value)}`);
    return value;
  }

  error(key: string, what: string): ApiError {
    const full = key.startsWith('tokenizer.') ? key : `${this.arch}.${key}`;
    return new ApiError('bad_file', `GGUF metadata ${full} ${what}`, { file: this.file.path, field: full });
  }
}

function shown(value: GgufValue): string {
  const text = typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** The LlamaConfig the file's `llama.*` metadata and tensor table describe. */
export function llamaConfigFromGguf(file: GgufFile): LlamaConfig {
  const m = new GgufMetadata(file, 'llama');
  const hidden = m.int('embedding_length');
  const heads = m.int('attention.head_count');
  const kvHeads = m.int('attention.head_count_kv', heads);
  if (heads % kvHeads !== 0) throw m.error('attention.head_count_kv', `(${kvHeads}) does not divide attention.head_count (${heads})`);
  if (!m.value('attention.key_length') && hidden % heads !== 0) throw m.error('attention.head_count', `(${heads}) does not divide embedding_length (${hidden})`);
  const headDim = m.int('attention.key_length', hidden / heads);
  if (m.int('attention.value_length', headDim) !== headDim) throw m.error('attention.value_length', `differs from the key length ${headDim}, which llama does not support`);
  if (headDim % 2 !== 0) throw m.error('attention.key_length', `(${headDim}) must be even for rotary embeddings`);
  if (m.int('rope.dimension_count', headDim) !== headDim) throw m.error('rope.dimension_count', `is not the head size ${headDim}; partial rotary is not supported for llama`);
  const scaling = m.value('rope.scaling.type');
  if ((scaling !== undefined && scaling !== 'none') || file.tensors.some((t) => t.name === 'rope_freqs.weight')) {
    throw new ApiError('unsupported', 'GGUF rope scaling (rope.scaling.type or a rope_freqs tensor) is not supported yet', { file: file.path, field: 'llama.rope.scaling.type' });
  }
  const embedding = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embedding || embedding.shape.length !== 2) throw new ApiError('bad_file', 'GGUF file has no 2-D token_embd.weight tensor', { file: file.path, field: 'token_embd.weight' });
  const vocabSize = embedding.shape[1];
  const tokens = file.metadata['tokenizer.ggml.tokens'];
  if (Array.isArray(tokens) && tokens.length !== vocabSize) {
    throw m.error('tokenizer.ggml.tokens', `has ${tokens.length} tokens but token_embd.weight has ${vocabSize} rows`);
  }
  const layers = m.int('block_count');
  const config: LlamaConfig = {
    architecture: 'llama',
    vocabSize,
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    intermediate: m.int('feed_forward_length'),
    maxPositions: m.int('context_length', 2048),
    tiedEmbeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    bosTokenId: m.tokenId('tokenizer.ggml.bos_token_id'),
    eosTokenIds: [m.tokenId('tokenizer.ggml.eos_token_id')].filter((id): id is number => id !== null),
    padTokenId: m.tokenId('tokenizer.ggml.padding_token_id'),
    normEps: m.num('attention.layer_norm_rms_epsilon', 1e-5),
    rope: { theta: m.num('rope.freq_base', 10000), rotaryDim: headDim, scaling: null },
    qkvBias: false,
    outputBias: false,
    mlpBias: false,
    activation: 'silu',
    slidingWindow: null,
  };
  config.parameters = countParameters(llamaWeightShapes(config));
  return config;
}

/** Every HF weight of `config` → its GGUF tensor (llama.cpp's tensor names, gguf-py constants.py MODEL_TENSORS). */
export function llamaWeightSources(config: LlamaConfig): Map<string, GgufWeightSource> {
  const sources = new Map<string, GgufWeightSource>();
  sources.set('model.embed_tokens.weight', { tensor: 'token_embd.weight' });
  for (let i = 0; i < config.layers; i++) {
    const p = `model.layers.${i}`;
    const b = `blk.${i}`;
    sources.set(`${p}.input_layernorm.weight`, { tensor: `${b}.attn_norm.weight` });
    sources.set(`${p}.self_attn.q_proj.weight`, { tensor: `${b}.attn_q.weight`, permuteHeads: config.heads });
    sources.set(`${p}.self_attn.k_proj.weight`, { tensor: `${b}.attn_k.weight`, permuteHeads: config.kvHeads });
    sources.set(`${p}.self_attn.v_proj.weight`, { tensor: `${b}.attn_v.weight` });
    sources.set(`${p}.self_attn.o_proj.weight`, { tensor: `${b}.attn_output.weight` });
    sources.set(`${p}.post_attention_layernorm.weight`, { tensor: `${b}.ffn_norm.weight` });
    sources.set(`${p}.mlp.gate_proj.weight`, { tensor: `${b}.ffn_gate.weight` });
    sources.set(`${p}.mlp.up_proj.weight`, { tensor: `${b}.ffn_up.weight` });
    sources.set(`${p}.mlp.down_proj.weight`, { tensor: `${b}.ffn_down.weight` });
  }
  sources.set('model.norm.weight', { tensor: 'output_norm.weight' });
  if (!config.tiedEmbeddings) sources.set('lm_head.weight', { tensor: 'output.weight' });
  return sources;
}

/**
 * Inverse of llama.cpp's permute on a row-major [heads·headDim, cols] matrix: within each head, GGUF row
 * 2j + s holds HF row s·headDim/2 + j (llama.cpp reshapes rows to [heads, 2, headDim/2] and swaps the last two).
 */
export function unpermuteRows(data: Float32Array, heads: number, cols: number): Float32Array {
  const rows = data.length / cols;
  if (!Number.isInteger(rows) || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new Error(`cannot unpermute ${data.length} values as [${heads} heads × even head size, ${cols}]`);
  }
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const from = (h * headDim + 2 * j + s) * cols;
        out.set(data.subarray(from, from + cols), (h * headDim + s * half + j) * cols);
      }
    }
  }
  return out;
}
