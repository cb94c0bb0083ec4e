// Imports llama2.c checkpoints (legacy .bin: 7 int32 header fields, then float32 arrays) as a LlamaModel
// with Hugging Face weight names. llama2.c rotates interleaved pairs (2i, 2i+1); HF rotates halves
// (i, i + d/2), so q/k rows are permuted per head at load. Arrays are read one at a time.
import { closeSync, fstatSync, readSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { countParameters } from '../models/causal-lm';
import { llamaWeightShapes, type LlamaConfig } from '../models/llama';
import { openRegularFile } from './bounded-read';
import { checkLayerCount } from './model-files';

const HEADER_BYTES = 7 * 4;
/** Newer llama2.c exports start with this magic ("ak42") and are not the legacy layout. */
const VERSIONED_MAGIC = 0x616b3432;

/** Reads and validates the header; the config is what an HF conversion of the checkpoint would say. */
export function readLlama2cConfig(path: string): LlamaConfig {
  const fd = openOrThrow(path);
  try {
    return parseHeader(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** Loads the checkpoint's weights under HF names. */
export function readLlama2cWeights(path: string): { config: LlamaConfig; weights: Map<string, tf.Tensor> } {
  const fd = openOrThrow(path);
  const weights = new Map<string, tf.Tensor>();
  try {
    const config = parseHeader(fd, path);
    const { hidden: dim, intermediate: hiddenDim, layers, heads, kvHeads, headDim, vocabSize, maxPositions } = config;
    const kvDim = kvHeads * headDim;
    let offset = HEADER_BYTES;
    const take = (count: number): Float32Array => {
      const data = new Float32Array(count);
      const bytes = new Uint8Array(data.buffer);
      let done = 0;
      while (done < bytes.length) {
        const n = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), offset + done);
        if (n === 0) throw new ApiError('bad_file', 'llama2.c checkpoint ends early (truncated?)', { file: path });
        done += n;
      }
      offset += bytes.length;
      return data;
    };
    // Arrays stacked over layers are split into one tensor per layer.
    const perLayer = (name: (layer: number) => string, shape: number[], transform?: (w: Float32Array) => Float32Array): void => {
      const size = shape.reduce((a, b) => a * b, 1);
      const all = take(layers * size);
      for (let l = 0; l < layers; l++) {
        const slice = all.subarray(l * size, (l + 1) * size);
        weights.set(name(l), tf.tensor(transform ? transform(slice) : slice.slice(), shape, 'float32'));
      }
    };
    const layer = (l: number, rest: string): string => `model.layers.${l}.${rest}`;

    weights.set('model.embed_tokens.weight', tf.tensor(take(vocabSize * dim), [vocabSize, dim], 'float32'));
    perLayer((l) => layer(l, 'input_layernorm.weight'), [dim]);
    perLayer(
      (l) => layer(l, 'self_attn.q_proj.weight'),
      [dim, dim],
      (w) => interleavedToHalves(w, heads, headDim, dim),
    );
    perLayer(
      (l) => layer(l, 'self_attn.k_proj.weight'),
      [kvDim, dim],
      (w) => interleavedToHalves(w, kvHeads, headDim, dim),
    );
    perLayer((l) => layer(l, 'self_attn.v_proj.weight'), [kvDim, dim]);
    perLayer((l) => layer(l, 'self_attn.o_proj.weight'), [dim, dim]);
    perLayer((l) => layer(l, 'post_attention_layernorm.weight'), [dim]);
    perLayer((l) => layer(l, 'mlp.gate_proj.weight'), [hiddenDim, dim]); // w1
    perLayer((l) => layer(l, 'mlp.down_proj.weight'), [dim, hiddenDim]); // w2
    perLayer((l) => layer(l, 'mlp.up_proj.weight'), [hiddenDim, dim]); // w3
    weights.set('model.norm.weight', tf.tensor(take(dim), [dim], 'float32'));
    offset += maxPositions * headDim * 4; // freq_cis_real and freq_cis_imag [seq_len, head_dim/2] each: recomputed
    if (!config.tiedEmbeddings) weights.set('lm_head.weight', tf.tensor(take(vocabSize * dim), [vocabSize, dim], 'float32'));
    return { config, weights };
  } catch (err) {
    for (const w of weights.values()) w.dispose();
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Per head, row 2i + half (interleaved pair) moves to row half·d/2 + i (rotate-half layout). w is [heads·d, cols]. */
function interleavedToHalves(w: Float32Array, numHeads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < numHeads; h++) {
    for (let i = 0; i < headDim / 2; i++) {
      for (let half = 0; half < 2; half++) {
        const from = (h * headDim + 2 * i + half) * cols;
        const to = (h * headDim + half * (headDim / 2) + i) * cols;
        out.set(w.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

function openOrThrow(path: string): number {
  return openRegularFile(path).fd;
}

function parseHeader(fd: number, path: string): LlamaConfig {
  const fileSize = fstatSync(fd).size;
  const bad = (message: string, field?: string): ApiError => new ApiError('bad_file', `invalid llama2.c checkpoint: ${message}`, { file: path, field });
  if (fileSize < HEADER_BYTES) throw bad(`file is ${fileSize} bytes, shorter than the 28-byte header`);
  const header = Buffer.alloc(HEADER_BYTES);
  readSync(fd, header, 0, HEADER_BYTES, 0);
  if (header.readUInt32LE(0) === VERSIONED_MAGIC) {
    throw new ApiError('unsupported', 'this is a versioned llama2.c export; only the legacy (version 0) .bin layout is supported', { file: path });
  }
  const [dim, hiddenDim, layers, heads, kvHeads, signedVocab, seqLen] = Array.from({ length: 7 }, (_, i) => header.readInt32LE(i * 4));
  const fields = { dim, hidden_dim: hiddenDim, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, seq_len: seqLen };
  for (const [field, value] of Object.entries(fields)) {
    if (value <= 0 || value > 1 << 20) throw bad(`${field} = ${value} is not plausible`, field);
  }
  if (signedVocab === 0 || Math.abs(signedVocab) > 1 << 22) throw bad(`vocab_size = ${signedVocab} is not plausible`, 'vocab_size');
  checkLayerCount(layers, 'n_layers', path);
  if (dim % heads !== 0) throw bad(`dim ${dim} is not divisible by n_heads ${heads}`, 'n_heads');
  if (heads % kvHeads !== 0) throw bad(`n_heads ${heads} is not a multiple of n_kv_heads ${kvHeads}`, 'n_kv_heads');
  const headDim = dim / heads;
  if (headDim % 2 !== 0) throw bad(`head size ${headDim} must be even for rotary embeddings`, 'n_heads');
  const vocabSize = Math.abs(signedVocab);
  const config: LlamaConfig = {
    architecture: 'llama',
    vocabSize,
    hidden: dim,
    layers,
    heads,
    kvHeads,
    headDim,
    intermediate: hiddenDim,
    maxPositions: seqLen,
    // A negative vocab_size marks an untied classifier stored after the other weights.
    tiedEmbeddings: signedVocab > 0,
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    bosTokenId: 1,
    // run.c ends a sample when the model emits BOS (=1), which delimits stories in training data.
    eosTokenIds: [1],
    padTokenId: null,
    normEps: 1e-5,
    rope: { theta: 10000, rotaryDim: headDim, scaling: null },
    qkvBias: false,
    outputBias: false,
    mlpBias: false,
    activation: 'silu',
    slidingWindow: null,
  };
  config.parameters = countParameters(llamaWeightShapes(config));
  const expectedFloats = config.parameters + seqLen * headDim; // + freq_cis tables
  const expectedBytes = HEADER_BYTES + expectedFloats * 4;
  if (fileSize < expectedBytes) {
    throw bad(`header implies ${expectedBytes} bytes but the file has ${fileSize} (truncated?)`);
  }
  return config;
}
