// Backend fallback: native TensorFlow when it loads, else wasm, else cpu — and always a reason.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ORDER, initBackend, probeBackends } from './backend';

describe('compute backend selection', () => {
  it('probes every candidate in order and gives a reason for each unavailable one', async () => {
    const statuses = await probeBackends();
    expect(statuses.map((s) => s.name)).toEqual([...BACKEND_ORDER]);
    for (const s of statuses) {
      if (!s.available) expect(s.reason).toMatch(/\w{5,}/);
    }
    expect(statuses.find((s) => s.name === 'cpu')?.available).toBe(true);
  });

  it('auto picks the first available backend in the documented order', async () => {
    const statuses = await probeBackends();
    const expected = statuses.find((s) => s.available)!.name;
    expect(await initBackend('auto')).toBe(expected);
  });

  it('an explicit backend that cannot load fails with its reason; cpu and wasm compute the same', async () => {
    const statuses = await probeBackends();
    const missing = statuses.find((s) => !s.available);
    if (missing) await expect(initBackend(missing.name)).rejects.toThrow(missing.reason!);
    const results: number[][] = [];
    for (const name of ['cpu', 'wasm'] as const) {
      expect(await initBackend(name)).toBe(name);
      expect(tf.getBackend()).toBe(name);
      const a = tf.tensor2d([[1, 2], [3, 4]]);
      const product = a.matMul(a);
      results.push(Array.from(await product.data()));
      tf.dispose([a, product]);
    }
    expect(results[0]).toEqual([7, 10, 15, 22]);
    expect(results[1]).toEqual(results[0]);
  });
});
