// Backend fallback: native TensorFlow when it loads, else wasm, else cpu — and always a reason.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ORDER, explainBackendFailure, initBackend, probeBackends } from './backend';

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
      const a = tf.tensor2d([
        [1, 2],
        [3, 4],
      ]);
      const product = a.matMul(a);
      results.push(Array.from(await product.data()));
      tf.dispose([a, product]);
    }
    expect(results[0]).toEqual([7, 10, 15, 22]);
    expect(results[1]).toEqual(results[0]);
  });
});

describe('explainBackendFailure', () => {
  // What tfjs-backend-wasm throws when malloc fails (seen at batch 8 × 1,024 tokens in the benchmark).
  const { RuntimeError } = (globalThis as unknown as { WebAssembly: { RuntimeError: new (message: string) => Error } }).WebAssembly;
  const abort = new RuntimeError('Aborted(). Build with -sASSERTIONS for more info.');

  it('turns a wasm abort into an out-of-memory error that says what to change', () => {
    const explained = explainBackendFailure(abort, 'wasm') as { code: string; message: string; field?: string };
    expect(explained.code).toBe('out_of_memory');
    expect(explained.message).toMatch(/4 GiB heap.*batchSize or maxLength/);
    expect(explained.field).toBe('batchSize');
  });

  it('leaves other errors, and aborts on other backends, as they are', () => {
    const other = new Error('shapes do not match');
    expect(explainBackendFailure(other, 'wasm')).toBe(other);
    expect(explainBackendFailure(abort, 'cpu')).toBe(abort);
  });
});
