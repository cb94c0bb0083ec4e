// Test helpers for the method suites (imported by *.test.ts only): tiny random models of each family,
// fixture locations, and a finite-difference gradient check.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../models/causal-lm';
import { architectureFor } from '../models/architectures';

export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');
export const SHARED_DIR = process.env.PREFIXLAB_SHARED ?? resolve(REPO_ROOT, '../shared');
export const STORIES_DIR = resolve(SHARED_DIR, 'models/stories260K-hf');
export const HAS_STORIES = existsSync(resolve(STORIES_DIR, 'model.safetensors'));
export const PEFT_FIXTURES = resolve(REPO_ROOT, 'tests/fixtures/peft');
export const MODEL_FIXTURES = resolve(REPO_ROOT, 'tests/fixtures/models');

export type TinyFamily = 'llama' | 'gpt2' | 'gpt_neox';

/** config.json of tiny models: hidden 16, 2 layers, 4 heads (llama: 2 KV heads), vocab 32. */
const TINY_CONFIGS: Record<TinyFamily, Record<string, unknown>> = {
  llama: {
    model_type: 'llama',
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 32,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  },
  gpt2: { model_type: 'gpt2', n_embd: 16, n_head: 4, n_layer: 2, n_positions: 64, vocab_size: 32 },
  gpt_neox: {
    model_type: 'gpt_neox',
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    vocab_size: 32,
    rotary_pct: 0.5,
    max_position_embeddings: 64,
  },
};

/** A tiny model of `family` with seeded random weights (norm scales near 1, linear weights ~ 1/√fan_in). */
export function tinyModel(family: TinyFamily, seed = 1): CausalLM {
  const spec = architectureFor(family)!;
  const config = spec.parseConfig(TINY_CONFIGS[family], `tiny-${family}/config.json`);
  const weights = new Map<string, tf.Tensor>();
  let i = 0;
  for (const [name, shape] of spec.weightShapes(config)) {
    const s = seed * 1000 + i++;
    let weight: tf.Tensor;
    if (shape.length === 1) {
      weight = name.endsWith('.bias') ? tf.randomNormal(shape, 0, 0.1, 'float32', s) : tf.randomNormal(shape, 1, 0.1, 'float32', s);
    } else {
      const fanIn = family === 'gpt2' ? shape[0] : shape[1];
      const std = /embed|wte|wpe/.test(name) ? 0.5 : 1 / Math.sqrt(fanIn);
      weight = tf.randomNormal(shape, 0, std, 'float32', s);
    }
    weights.set(name, weight);
  }
  return spec.create(config, weights);
}

/** Deterministic token ids [B, T] in [1, vocab). */
export function fixedIds(batchSize: number, seqLen: number, vocab: number, seed = 7): tf.Tensor2D {
  const ids: number[][] = [];
  let state = seed;
  for (let b = 0; b < batchSize; b++) {
    const row: number[] = [];
    for (let t = 0; t < seqLen; t++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      row.push(1 + Math.floor((state / 2 ** 31) * (vocab - 1)));
    }
    ids.push(row);
  }
  return tf.tensor2d(ids, [batchSize, seqLen], 'int32');
}

/** Adds seeded noise to every variable (so LoRA's B, PT+'s M, … are non-zero). */
export function perturb(variables: tf.Variable[], std: number, seed: number): void {
  variables.forEach((v, i) => tf.tidy(() => v.assign(v.add(tf.randomNormal(v.shape, 0, std, 'float32', seed + i)))));
}

export interface GradientCheck {
  name: string;
  /** ‖analytic − numeric‖ / max(‖numeric‖, ‖analytic‖) over the sampled entries. */
  relError: number;
  analytic: number[];
  numeric: number[];
}

/**
 * Compares tf.variableGrads with central finite differences (step `step`) on `samples` entries of every
 * variable: the entry of largest |gradient| plus seeded random ones.
 */
export function gradientCheck(loss: () => tf.Scalar, variables: tf.Variable[], opts: { step: number; samples: number; seed?: number }): GradientCheck[] {
  const { grads, value } = tf.variableGrads(loss, variables);
  value.dispose();
  const lossValue = (): number => tf.tidy(() => loss().dataSync()[0]);
  let state = opts.seed ?? 12345;
  const results: GradientCheck[] = [];
  for (const variable of variables) {
    const grad = grads[variable.name].dataSync();
    const original = Float32Array.from(variable.dataSync());
    const indices = new Set<number>();
    let largest = 0;
    grad.forEach((g, i) => {
      if (Math.abs(g) > Math.abs(grad[largest])) largest = i;
    });
    indices.add(largest);
    if (opts.samples >= original.length) original.forEach((_, i) => indices.add(i));
    while (indices.size < Math.min(opts.samples, original.length)) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      indices.add(Math.floor((state / 2 ** 31) * original.length)); // high bits: the low ones cycle
    }
    const analytic: number[] = [];
    const numeric: number[] = [];
    for (const index of indices) {
      const evaluate = (delta: number): { value: number; at: number } => {
        const moved = original.slice();
        moved[index] = Math.fround(original[index] + delta);
        tf.tidy(() => variable.assign(tf.tensor(moved, variable.shape)));
        return { value: lossValue(), at: moved[index] };
      };
      const plus = evaluate(opts.step);
      const minus = evaluate(-opts.step);
      numeric.push((plus.value - minus.value) / (plus.at - minus.at));
      analytic.push(grad[index]);
    }
    tf.tidy(() => variable.assign(tf.tensor(original, variable.shape)));
    const norm = (xs: number[]): number => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
    const diff = norm(analytic.map((a, i) => a - numeric[i]));
    results.push({ name: variable.name, relError: diff / Math.max(norm(numeric), norm(analytic), 1e-12), analytic, numeric });
  }
  tf.dispose(grads);
  return results;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    norm += expected[i] ** 2;
  }
  return Math.sqrt(diff / Math.max(norm, 1e-30));
}
