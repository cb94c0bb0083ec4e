// AdamW's transient memory: an update holds a few copies of one variable at a time, never a dozen copies of every
// variable at once (full fine-tuning of SmolLM2-135M aborted the 4 GiB wasm heap at its first update that way),
// and leaks nothing.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { AdamW, DEFAULT_ADAMW } from './adamw';

beforeAll(async () => {
  await initBackend('cpu');
});

const SIZE = 16_384; // floats per variable
const COUNT = 12;
const variables: tf.Variable[] = [];
const grads: tf.Tensor[] = [];
afterAll(() => tf.dispose([...variables, ...grads]));

describe('AdamW memory', () => {
  it('updates one variable at a time: the peak above the live tensors stays a few copies of one variable', async () => {
    // At most: the scaled gradient and the second moment's stage (v·β2, g², g²·(1 − β2), their sum) of one
    // variable; one tidy over every variable held about 13 copies of each (here 12 × 13) until the end.
    for (let i = 0; i < COUNT; i++) {
      variables.push(tf.variable(tf.randomNormal([128, SIZE / 128], 0, 1, 'float32', i), true, `adamw-memory-${i}-${Math.random().toString(36).slice(2)}`));
      grads.push(tf.randomNormal([128, SIZE / 128], 0, 1, 'float32', 100 + i));
    }
    // The variable-by-variable path (what full fine-tuning takes; small trained sets are updated as flat groups).
    const optimizer = new AdamW(variables, DEFAULT_ADAMW, new Set(), false);
    const before = tf.memory();
    for (const gradScale of [1, 0.5]) {
      const profile = await tf.profile(() => optimizer.step(grads, 1e-3, gradScale));
      const transient = profile.peakBytes - before.numBytes;
      expect(transient).toBeGreaterThan(0);
      expect(transient).toBeLessThanOrEqual(6 * SIZE * 4);
      expect(profile.newBytes).toBe(0);
    }
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });
});
