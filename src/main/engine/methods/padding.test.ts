// Left padding with an attention mask does not change what a method computes for a row: evaluation, LR tuning
// and generation batch examples of different lengths, and a prefix, prompt or PT+ memory that leaked into (or
// shifted the positions of) padded rows would score the same example differently alone and in a batch.
// Compared on every method with non-trivial trained values (LoRA's B is zero at init, say).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { tinyModel } from '../train/test-fixtures';
import { METHOD_NAMES, getMethod, parseMethodOptions } from './registry';

beforeAll(async () => {
  await initBackend('cpu');
});

const model = tinyModel(3);
afterAll(() => model.dispose());

const short = [1, 12, 30, 7, 44];
const long = [1, 9, 17, 25, 33, 41, 49];

describe.each(METHOD_NAMES.map((m) => [m]))('%s: a left-padded row scores as it does alone', (method) => {
  it('same logits for the real tokens, with or without a longer neighbour', () => {
    const adapter = getMethod(method).attach(model, parseMethodOptions(method, {}) as never, { seed: 2 });
    const originals = adapter.trainableVariables().map((v) => v.clone());
    try {
      adapter.setTraining(false);
      // The base model's output before anything is perturbed (full fine-tuning perturbs the model itself).
      const base = tf.tidy(() => model.forward(tf.tensor2d([short], [1, short.length], 'int32')).dataSync() as Float32Array);
      adapter.trainableVariables().forEach((v, i) => v.assign(v.add(tf.randomNormal(v.shape, 0, 0.2, 'float32', 10 + i))));
      const pad = long.length - short.length;
      const [alone, batched] = tf.tidy(() => {
        const single = model.forward(tf.tensor2d([short], [1, short.length], 'int32'), { hooks: adapter.hooks }); // [1, 5, V]
        const ids = tf.tensor2d([[...new Array(pad).fill(0), ...short], long], [2, long.length], 'int32');
        const mask = tf.tensor2d([[...new Array(pad).fill(0), ...short.map(() => 1)], long.map(() => 1)], [2, long.length], 'int32');
        const both = model.forward(ids, { hooks: adapter.hooks, attentionMask: mask }); // [2, 7, V]
        return [single.dataSync() as Float32Array, both.slice([0, pad, 0], [1, short.length, -1]).dataSync() as Float32Array];
      });
      expect(batched.length).toBe(alone.length);
      let worst = 0;
      alone.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - batched[i]!))));
      expect(worst).toBeLessThan(1e-4);
      // The perturbed adapter must change the output, or the comparison would not involve it at all.
      expect(Math.max(...alone.map((v, i) => Math.abs(v - base[i]!)))).toBeGreaterThan(1e-3);
    } finally {
      adapter.trainableVariables().forEach((v, i) => v.assign(originals[i]!));
      tf.dispose(originals);
      adapter.dispose();
    }
  });
});
