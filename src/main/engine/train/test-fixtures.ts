// Shared by the trainer and evaluation tests: a tiny random LLaMA (2 layers, D = 16, vocab 64, seeded) that
// trains in milliseconds, toy encoded examples for it, and where the shared stories260K model lives.
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LlamaModel, llamaWeightShapes, parseLlamaConfig } from '../models/llama';
import type { EncodedExample } from './encode';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(repoRoot, '../shared');
export const storiesHf = resolve(sharedDir, 'models/stories260K-hf');

/** True when stories260K-hf is present; logs why the caller skips otherwise. */
export function hasStoriesHf(): boolean {
  const ok = existsSync(resolve(storiesHf, 'model.safetensors'));
  if (!ok) console.warn(`skipping stories260K training tests: ${storiesHf} is absent (set PREFIXLAB_SHARED)`);
  return ok;
}

export function tinyModel(seed = 1): LlamaModel {
  const config = parseLlamaConfig(
    {
      model_type: 'llama',
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 64,
      max_position_embeddings: 64,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
    },
    'tiny-llama',
  );
  const weights = new Map<string, tf.Tensor>();
  let offset = 0;
  for (const [name, shape] of llamaWeightShapes(config)) {
    weights.set(name, name.endsWith('norm.weight') ? tf.ones(shape) : tf.randomNormal(shape, 0, 0.3, 'float32', seed * 1000 + offset++));
  }
  return new LlamaModel(config, weights);
}

/**
 * n toy examples for the tiny model: BOS, 3–6 prompt tokens, then a one-token target that depends on the
 * prompt's first token's parity (a learnable rule).
 */
export function toyExamples(n: number, seed = 7): EncodedExample[] {
  let x = seed;
  const next = (): number => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x;
  };
  return Array.from({ length: n }, (_, index) => {
    const promptLen = 3 + (next() % 4);
    const prompt = Array.from({ length: promptLen }, () => 10 + (next() % 40));
    const target = prompt[0] % 2 === 0 ? 60 : 61;
    return { index, ids: [1, ...prompt, target], targetStart: promptLen + 1, isTruncated: false };
  });
}
