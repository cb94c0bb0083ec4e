import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { initBackend } from '../backend';
import { createTinyModel } from '../models/tiny-model';
import { loadHfFolder } from './hf-folder';
import { loadModel } from './load-model';
import { writeSafetensors, type F32Tensor } from './safetensors';
import { TINY_LLAMA_CONFIG } from '../train/test-fixtures';

// The tiny LLaMA with a 40-token vocabulary and its own LM head (no tie_word_embeddings).
const { tie_word_embeddings: _tied, ...TINY_UNTIED } = TINY_LLAMA_CONFIG;
const CONFIG = { ...TINY_UNTIED, vocab_size: 40 };

/** A WordLevel tokenizer.json with `size` tokens w0..w{size-1}. */
function tokenizerJson(size: number): object {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < size; i++) vocab[`w${i}`] = i;
  return {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: 'w0' },
  };
}

let dir: string;
let weights: Record<string, F32Tensor>;

beforeAll(async () => {
  await initBackend('cpu');
  const model = createTinyModel('llama', { seed: 7 });
  weights = {};
  for (const [name, w] of model.weights) weights[name] = { dtype: 'F32', shape: w.shape, data: w.dataSync() as Float32Array };
  model.dispose();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-hf-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(40)));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: 'w1', eos_token: 'w2', add_bos_token: true }));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(() => expect(tf.memory().numTensors).toBe(0));

function patchConfig(patch: Record<string, unknown>): void {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...CONFIG, ...patch }));
}

function loadError(opts?: { maxBytes?: number }): ApiError {
  const before = tf.memory().numTensors;
  try {
    loadHfFolder(dir, opts).model.dispose();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect(tf.memory().numTensors).toBe(before);
    return err as ApiError;
  }
  throw new Error('expected the load to fail');
}

describe('loadHfFolder', () => {
  it('loads a valid folder with its tokenizer and generation defaults', async () => {
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 3], temperature: 0.7 }));
    const loaded = await loadModel(dir);
    expect(loaded.format).toBe('hf');
    expect(loaded.model.config).toMatchObject({ architecture: 'llama', hidden: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 4, vocabSize: 40, tiedEmbeddings: false });
    expect(loaded.generation.eosTokenIds).toEqual([2, 3]);
    expect(loaded.generation.temperature).toBe(0.7);
    expect(loaded.tokenizer?.encode('w5 w6')).toEqual([1, 5, 6]);
    const w = loaded.model.weights.get('model.layers.1.mlp.up_proj.weight')!;
    expect(Array.from(w.dataSync())).toEqual(Array.from(weights['model.layers.1.mlp.up_proj.weight'].data));
    loaded.dispose();
  });

  it('reports a missing config.json', () => {
    unlinkSync(join(dir, 'config.json'));
    const err = loadError();
    expect(err.code).toBe('not_found');
    expect(err.file).toBe(join(dir, 'config.json'));
    expect(err.message).toMatch(/config\.json is missing/);
  });

  it('reports an unknown model_type and lists the supported ones', () => {
    patchConfig({ model_type: 'bert' });
    const err = loadError();
    expect(err.field).toBe('model_type');
    expect(err.message).toMatch(/"bert" is not supported.*llama.*mistral.*qwen2.*gpt2.*gpt_neox/);
  });

  it('reports a missing required config field', () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...CONFIG, hidden_size: undefined }));
    const err = loadError();
    expect(err.field).toBe('hidden_size');
    expect(err.file).toBe(join(dir, 'config.json'));
  });

  it('reports a missing tensor by name with its expected shape', () => {
    const { ['model.layers.1.self_attn.k_proj.weight']: _dropped, ...rest } = weights;
    writeSafetensors(join(dir, 'model.safetensors'), rest);
    const err = loadError();
    expect(err.field).toBe('model.layers.1.self_attn.k_proj.weight');
    expect(err.message).toMatch(/missing tensor model\.layers\.1\.self_attn\.k_proj\.weight \(expected shape \[8, 16\]\)/);
    expect(err.file).toBe(join(dir, 'model.safetensors'));
  });

  it('reports a misshapen tensor with expected and actual shapes', () => {
    writeSafetensors(join(dir, 'model.safetensors'), { ...weights, 'model.norm.weight': { dtype: 'F32', shape: [15], data: new Float32Array(15) } });
    const err = loadError();
    expect(err.field).toBe('model.norm.weight');
    expect(err.message).toMatch(/has shape \[15\], but config\.json implies \[16\]/);
  });

  it('reports a truncated safetensors header', () => {
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors'), bytes.subarray(0, 100));
    const err = loadError();
    expect(err.code).toBe('bad_file');
    expect(err.file).toBe(join(dir, 'model.safetensors'));
    expect(err.message).toMatch(/truncated or corrupt/);
  });

  it('reports truncated tensor data', () => {
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 64));
    expect(loadError().message).toMatch(/truncated/);
  });

  it('reports missing weights', () => {
    unlinkSync(join(dir, 'model.safetensors'));
    const err = loadError();
    expect(err.code).toBe('not_found');
    expect(err.message).toMatch(/model\.safetensors is missing/);
  });

  it('reports a tokenizer vocabulary larger than vocab_size', () => {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(50)));
    const err = loadError();
    expect(err.file).toBe(join(dir, 'tokenizer.json'));
    expect(err.message).toMatch(/ids up to 49 but the model's vocab_size is 40/);
  });

  it('refuses an absurd config before allocating anything', () => {
    patchConfig({ hidden_size: 65536, intermediate_size: 262144, num_hidden_layers: 1000, num_attention_heads: 64, num_key_value_heads: 64, vocab_size: 1_000_000 });
    const err = loadError();
    expect(err.code).toBe('out_of_memory');
    expect(err.message).toMatch(/needs .* GiB for float32 weights/);
    expect(err.file).toBe(join(dir, 'config.json'));
  });

  it('applies an explicit memory limit', () => {
    expect(loadError({ maxBytes: 1000 }).code).toBe('out_of_memory');
  });

  it('reports inconsistent head counts', () => {
    patchConfig({ num_key_value_heads: 3 });
    expect(loadError().field).toBe('num_key_value_heads');
  });

  it('reports an unsupported rope_scaling type', () => {
    patchConfig({ rope_scaling: { rope_type: 'yarn', factor: 4 } });
    const err = loadError();
    expect(err.field).toBe('rope_scaling');
    expect(err.message).toMatch(/yarn/);
  });

  it("loads GPT-2 checkpoints saved without the 'transformer.' prefix", async () => {
    const gpt2 = createTinyModel('gpt2', { seed: 4 });
    const stripped: Record<string, F32Tensor> = {};
    for (const [name, w] of gpt2.weights) stripped[name.replace(/^transformer\./, '')] = { dtype: 'F32', shape: w.shape, data: w.dataSync() as Float32Array };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 16, n_layer: 2, n_head: 4, vocab_size: 40, n_positions: 64 }));
    writeSafetensors(join(dir, 'model.safetensors'), stripped);
    const loaded = await loadModel(dir);
    const ids = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
    const [a, b] = [gpt2.forward(ids), loaded.model.forward(ids)];
    expect(tf.tidy(() => a.sub(b).abs().max().dataSync()[0])).toBe(0);
    tf.dispose([ids, a, b]);
    gpt2.dispose();
    loaded.dispose();
  });
});
