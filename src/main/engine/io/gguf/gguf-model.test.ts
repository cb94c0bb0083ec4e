// GGUF → our llama model, on tiny files written here the way llama.cpp's converter writes them: a random HF-named
// llama model is saved as F32 GGUF tensors (llama.cpp names, GGUF's reversed shapes, Q/K rows permuted exactly as
// convert_hf_to_gguf.py's LlamaModel.permute does), loaded back through loadModel, and must give the same logits.
// The bad inputs (unsupported architecture, missing tensor, metadata at odds with the tensors) give one line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, formatApiError } from '@shared/errors';
import { oneLine } from './testing/one-line-error';
import { createTinyModel } from '../../models/tiny-model';
import type { CausalLM } from '../../models/causal-lm';
import { generateText, unloadModels } from '../../../services/model-service';
import { loadModel, loadTokenizer, readModelConfig, readModelHeader } from '../load-model';
import { unpermuteRows } from './gguf-llama';
import { SUPPORTED_GGUF_ARCHITECTURES } from './gguf-model';
import { writeTinyGguf, type TinyTensor, type TinyValue } from './tiny-gguf-writer';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-model-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** llama.cpp's LlamaModel.permute: rows reshaped [heads, 2, rows/heads/2, cols], axes 1 and 2 swapped. */
function llamaCppPermute(data: Float32Array, heads: number, cols: number): Float32Array {
  const headDim = data.length / cols / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++)
    for (let s = 0; s < 2; s++)
      for (let j = 0; j < half; j++) {
        // source index [h, s, j] of the reshape lands at [h, j, s] after swapaxes(1, 2)
        const from = (h * headDim + s * half + j) * cols;
        out.set(data.subarray(from, from + cols), (h * headDim + j * 2 + s) * cols);
      }
  return out;
}

const GGUF_NAMES: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
];

/** The GGUF file llama.cpp's converter would write for `model` (F32 tensors). */
function toGguf(model: CausalLM, opts: { architecture?: string; drop?: string; metadata?: Record<string, TinyValue> } = {}): Uint8Array {
  const c = model.config;
  const tensors: TinyTensor[] = [];
  for (const [name, weight] of model.weights) {
    const rule = GGUF_NAMES.find(([pattern]) => pattern.test(name));
    if (!rule) throw new Error(`no GGUF name for ${name}`);
    const ggufName = name.replace(rule[0], rule[1]);
    if (ggufName === opts.drop) continue;
    let data = weight.dataSync() as Float32Array;
    if (name.endsWith('q_proj.weight')) data = llamaCppPermute(data, c.heads, c.hidden);
    if (name.endsWith('k_proj.weight')) data = llamaCppPermute(data, c.kvHeads, c.hidden);
    tensors.push({ name: ggufName, shape: [...weight.shape].reverse(), typeId: 0, data: new Uint8Array(data.slice().buffer) });
  }
  return writeTinyGguf({
    version: 3,
    metadata: {
      'general.architecture': { type: 'string', value: opts.architecture ?? 'llama' },
      'llama.block_count': { type: 'u32', value: c.layers },
      'llama.context_length': { type: 'u32', value: c.maxPositions },
      'llama.embedding_length': { type: 'u32', value: c.hidden },
      'llama.feed_forward_length': { type: 'u32', value: c.intermediate },
      'llama.attention.head_count': { type: 'u32', value: c.heads },
      'llama.attention.head_count_kv': { type: 'u32', value: c.kvHeads },
      'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-6 },
      'llama.rope.freq_base': { type: 'f32', value: 10000 },
      'llama.rope.dimension_count': { type: 'u32', value: c.headDim },
      'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
      'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
      ...opts.metadata,
    },
    tensors,
  });
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const IDS = [[3, 17, 5, 29, 11, 0, 38, 7]];

function logits(model: CausalLM): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(IDS, [1, IDS[0].length], 'int32')).dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('unpermuteRows', () => {
  it('undoes llama.cpp’s Q/K permutation', () => {
    const data = Float32Array.from({ length: 3 * 8 * 5 }, (_, i) => i);
    const permuted = llamaCppPermute(data, 3, 5);
    expect(permuted).not.toEqual(data);
    expect(unpermuteRows(permuted, 3, 5)).toEqual(data);
  });
});

describe('a llama GGUF file', () => {
  for (const tied of [false, true]) {
    it(`loads as the model it was written from (${tied ? 'tied' : 'separate'} output head, Q/K unpermuted)`, async () => {
      const reference = createTinyModel('llama', { seed: 7, overrides: { tie_word_embeddings: tied } });
      const path = write(`tiny-${tied}.gguf`, toGguf(reference));
      const loaded = await loadModel(path);
      try {
        expect(loaded.format).toBe('gguf');
        expect(loaded.tokenizer).toBeNull();
        expect(loaded.generation).toEqual({ bosTokenId: 1, eosTokenIds: [2], padTokenId: null });
        const { architecture, vocabSize, hidden, layers, heads, kvHeads, headDim, intermediate, tiedEmbeddings, parameters } = loaded.model.config;
        expect({ architecture, vocabSize, hidden, layers, heads, kvHeads, headDim, intermediate, tiedEmbeddings, parameters }).toEqual({
          architecture: 'llama',
          vocabSize: 40,
          hidden: 16,
          layers: 2,
          heads: 4,
          kvHeads: 2,
          headDim: 4,
          intermediate: 32,
          tiedEmbeddings: tied,
          parameters: reference.config.parameters,
        });
        for (const [name, weight] of reference.weights) {
          expect(loaded.model.weights.get(name)?.dataSync(), name).toEqual(weight.dataSync());
        }
        expect(maxAbsDiff(logits(loaded.model), logits(reference))).toBeLessThan(1e-5);
      } finally {
        loaded.dispose();
        reference.dispose();
      }
    });
  }

  it('is found by its magic bytes whatever its name (an Ollama blob)', async () => {
    const reference = createTinyModel('llama', { seed: 3 });
    const path = write('sha256-0123abcd', toGguf(reference));
    reference.dispose();
    const header = await readModelHeader(path);
    expect({ format: header.format, quantization: header.quantization, fileType: header.fileType }).toEqual({ format: 'gguf', quantization: { F32: 21 }, fileType: 'F32' });
  });

  it('refuses another architecture with one line listing the supported ones', async () => {
    const reference = createTinyModel('llama', { seed: 3 });
    const path = write('arch.gguf', toGguf(reference, { architecture: 'falcon' }));
    reference.dispose();
    const line = await oneLine(loadModel(path), path);
    // The list grows with each architecture registered in gguf-model.ts; llama is always first.
    expect(line).toContain(`architecture "falcon", which is not supported (supported: ${SUPPORTED_GGUF_ARCHITECTURES.join(', ')})`);
    expect(SUPPORTED_GGUF_ARCHITECTURES[0]).toBe('llama');
  });

  it('refuses a missing tensor, naming it', async () => {
    const reference = createTinyModel('llama', { seed: 3 });
    const path = write('missing.gguf', toGguf(reference, { drop: 'blk.1.attn_k.weight' }));
    reference.dispose();
    expect(await oneLine(readModelHeader(path), path)).toMatch(/no tensor blk\.1\.attn_k\.weight \(for model\.layers\.1\.self_attn\.k_proj\.weight, shape \[8, 16\]\)/);
  });

  it('refuses metadata at odds with the tensors', async () => {
    const reference = createTinyModel('llama', { seed: 3 });
    const wide = write('wide.gguf', toGguf(reference, { metadata: { 'llama.feed_forward_length': { type: 'u32', value: 48 } } }));
    const vocab = write('vocab.gguf', toGguf(reference, { metadata: { 'tokenizer.ggml.tokens': { type: 'string[]', value: ['a', 'b'] } } }));
    const heads = write('heads.gguf', toGguf(reference, { metadata: { 'llama.attention.head_count_kv': { type: 'u32', value: 3 } } }));
    reference.dispose();
    expect(await oneLine(readModelHeader(wide), wide)).toMatch(/tensor blk\.0\.ffn_gate\.weight has shape \[16, 32\], but the metadata implies \[16, 48\]/);
    expect(await oneLine(readModelHeader(vocab), vocab)).toMatch(/tokenizer\.ggml\.tokens has 2 tokens but token_embd\.weight has 40 rows/);
    expect(await oneLine(readModelHeader(heads), heads)).toMatch(/llama\.attention\.head_count_kv \(3\) does not divide attention\.head_count \(4\)/);
  });

  it('says in one line where text or a synchronous config read is asked of a file without a tokenizer', async () => {
    const reference = createTinyModel('llama', { seed: 3 });
    const path = write('text.gguf', toGguf(reference));
    reference.dispose();
    expect((await loadTokenizer(path)).tokenizer).toBeNull();
    expect(await oneLine((async () => readModelConfig(path))(), path)).toMatch(/cannot read GGUF files yet/);
    const generated = await generateText({ model: path, prompt: 'hello', maxNewTokens: 2 }).catch((e: unknown) => e);
    expect(generated).toBeInstanceOf(ApiError);
    expect(formatApiError((generated as ApiError).toJSON())).toBe('prompt: this model has no tokenizer; pass promptIds');
    expect((await generateText({ model: path, promptIds: [3, 4], maxNewTokens: 2, greedy: true })).ids).toHaveLength(2);
    await unloadModels(path);
  });

  it('reads the tokenizer from tokenizer.ggml.* metadata, so text works', async () => {
    const reference = createTinyModel('llama', { seed: 3 });
    const tokens = ['<|endoftext|>', 'h', 'e', 'l', 'o', 'Ġ', 'he', 'll', 'hell', 'hello', ...Array.from({ length: 30 }, (_, i) => `x${i}`)];
    const path = write(
      'tokenizer.gguf',
      toGguf(reference, {
        metadata: {
          'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
          'tokenizer.ggml.pre': { type: 'string', value: 'smollm' },
          'tokenizer.ggml.tokens': { type: 'string[]', value: tokens },
          'tokenizer.ggml.merges': { type: 'string[]', value: ['h e', 'l l', 'he ll', 'hell o'] },
          'tokenizer.ggml.eos_token_id': { type: 'u32', value: 0 },
          'tokenizer.ggml.bos_token_id': { type: 'u32', value: 0 },
        },
      }),
    );
    reference.dispose();
    const { tokenizer } = await loadTokenizer(path);
    expect(tokenizer!.encode('hello hell')).toEqual([9, 5, 8]);
    expect((await loadModel(path)).tokenizer!.decode([9, 5, 8])).toBe('hello hell');
    expect((await generateText({ model: path, prompt: 'hello', maxNewTokens: 2, greedy: true })).promptIds).toEqual([9]);
    await unloadModels(path);
  });
});
