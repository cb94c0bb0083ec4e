// Forward-pass properties every family must have: KV-cache decoding equals full recomputation, left
// padding does not change a row's logits, 'last' logits, gradients only for trainable weights, no leaks.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import type { CausalLM } from './causal-lm';
import { KVCache } from './kv-cache';
import { createTinyModel, type TinyArchitecture } from './tiny-model';

const ARCHITECTURES: TinyArchitecture[] = ['llama', 'qwen2', 'mistral', 'gpt2', 'gpt_neox'];
const SEQUENCE = [3, 17, 5, 22, 9, 31, 1, 12, 8, 27];

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each(ARCHITECTURES)('%s forward', (architecture) => {
  let model: CausalLM;
  beforeAll(() => {
    model = createTinyModel(architecture, { seed: 11 });
  });
  afterAll(() => model.dispose());

  it('KV-cache decoding equals full recomputation', () => {
    const full = tf.tidy(() => model.forward(tf.tensor2d([SEQUENCE], undefined, 'int32'))); // [1, T, V]
    const cache = new KVCache(model.config.layers);
    const steps: tf.Tensor3D[] = [];
    // Prefill 4 tokens, then one token per step.
    steps.push(tf.tidy(() => model.forward(tf.tensor2d([SEQUENCE.slice(0, 4)], undefined, 'int32'), { cache })));
    for (let t = 4; t < SEQUENCE.length; t++) {
      steps.push(tf.tidy(() => model.forward(tf.tensor2d([[SEQUENCE[t]]], undefined, 'int32'), { cache })));
    }
    expect(cache.length).toBe(SEQUENCE.length);
    const incremental = tf.concat(steps, 1);
    expect(maxAbsDiff(full, incremental)).toBeLessThan(1e-5);
    tf.dispose([full, incremental, ...steps]);
    cache.dispose();
  });

  it('left padding with a mask leaves each row unchanged (also through the cache)', () => {
    const short = SEQUENCE.slice(0, 6);
    const long = SEQUENCE.slice(2, 10);
    const single = tf.tidy(() => model.forward(tf.tensor2d([short], undefined, 'int32')).slice([0, 5, 0], [1, 1, -1])); // [1, 1, V]
    const cache = new KVCache(model.config.layers);
    const batched = tf.tidy(() =>
      model.forward(tf.tensor2d([[0, 0, ...short], long], undefined, 'int32'), {
        attentionMask: tf.tensor2d(
          [
            [0, 0, 1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1, 1, 1],
          ],
          undefined,
          'int32',
        ),
        cache,
      }),
    ); // [2, 8, V]
    expect(maxAbsDiff(single, batched.slice([0, 7, 0], [1, 1, -1]))).toBeLessThan(1e-5);
    // One more token through the cache for row 0 equals the unpadded 7-token sequence.
    const next = tf.tidy(() => model.forward(tf.tensor2d([[SEQUENCE[6]], [SEQUENCE[0]]], undefined, 'int32'), { cache }));
    const reference = tf.tidy(() => model.forward(tf.tensor2d([SEQUENCE.slice(0, 7)], undefined, 'int32')).slice([0, 6, 0], [1, 1, -1]));
    expect(maxAbsDiff(reference, next.slice([0, 0, 0], [1, 1, -1]))).toBeLessThan(1e-5);
    tf.dispose([single, batched, next, reference]);
    cache.dispose();
  });

  it("logits: 'last' returns the final position only", () => {
    const all = tf.tidy(() => model.forward(tf.tensor2d([SEQUENCE], undefined, 'int32')));
    const last = tf.tidy(() => model.forward(tf.tensor2d([SEQUENCE], undefined, 'int32'), { logits: 'last' }));
    expect(last.shape).toEqual([1, 1, model.config.vocabSize]);
    expect(maxAbsDiff(all.slice([0, SEQUENCE.length - 1, 0], [1, 1, -1]), last)).toBe(0);
    tf.dispose([all, last]);
  });

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    const ids = tf.tensor2d([SEQUENCE], undefined, 'int32');
    tf.tidy(() => {
      model.forward(ids);
    });
    model.forward(ids).dispose();
    ids.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('makeTrainable', () => {
  it('computes gradients for the chosen weights only', () => {
    const before = tf.memory().numTensors;
    const model = createTinyModel('llama', { seed: 3 });
    const name = 'model.layers.1.self_attn.q_proj.weight';
    const [variable] = model.makeTrainable([name]);
    expect(model.weights.get(name)).toBe(variable);
    expect(model.weights.get('model.layers.0.self_attn.q_proj.weight')).not.toBeInstanceOf(tf.Variable);
    const ids = tf.tensor2d([SEQUENCE], undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => model.forward(ids).square().mean() as tf.Scalar);
    expect(Object.keys(grads)).toEqual([variable.name]);
    expect(grads[variable.name].shape).toEqual(variable.shape);
    expect(tf.tidy(() => grads[variable.name].abs().sum().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([value, ids, ...Object.values(grads)]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('makes every weight trainable by default and disposes the originals', () => {
    const before = tf.memory().numTensors;
    const model = createTinyModel('gpt2', { seed: 3 });
    const count = model.weights.size;
    expect(model.makeTrainable()).toHaveLength(count);
    expect(tf.memory().numTensors).toBe(before + count);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
