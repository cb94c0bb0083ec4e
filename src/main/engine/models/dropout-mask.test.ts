// The hand-run Alea stream gives tf.dropout's multiplier bit for bit, on every backend (the add, floor and divide
// are float32 there), for the rates LoRA uses and the awkward ones.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { initBackend, probeBackends } from '../backend';
import { dropoutMultiplier } from './dropout-mask';

const BACKENDS: ('cpu' | 'wasm' | 'tensorflow')[] = ['cpu', 'wasm'];

/** tfjs's own multiplier: tf.dropout on ones. */
function tfjsMultiplier(shape: number[], rate: number, seed: number): Float32Array {
  return tf.tidy(() => tf.dropout(tf.ones(shape), rate, undefined, seed).dataSync() as Float32Array);
}

describe('dropoutMultiplier', () => {
  beforeAll(async () => {
    if ((await probeBackends()).some((b) => b.name === 'tensorflow' && b.available)) BACKENDS.push('tensorflow');
  });
  afterAll(async () => {
    await initBackend('cpu');
  });

  it("equals tf.dropout's multiplier exactly, on every backend", async () => {
    const cases: [number[], number, number][] = [
      [[2048, 64], 0.05, 7], // LoRA's default rate, a long stream
      [[3, 5, 7], 0.1, 1],
      [[4096], 0.5, 123456789],
      [[1000], 0.9, 0],
      [[513], 1e-9, 42], // keep rounds to 1 in float32: a uniform that rounds up to 1 then gives 2, as tfjs does
      [[0, 4], 0.3, 5],
    ];
    for (const backend of BACKENDS) {
      await initBackend(backend);
      for (const [shape, rate, seed] of cases) {
        const ours = tf.tidy(() => dropoutMultiplier(shape, rate, seed).dataSync() as Float32Array);
        expect(Array.from(ours), `${backend} ${shape.join('x')} rate ${rate} seed ${seed}`).toEqual(Array.from(tfjsMultiplier(shape, rate, seed)));
      }
    }
    // Not a trivial pass: a different seed gives a different mask, and about `rate` of the elements are dropped.
    await initBackend('cpu');
    const a = tf.tidy(() => dropoutMultiplier([4096], 0.25, 1).dataSync() as Float32Array);
    const b = tf.tidy(() => dropoutMultiplier([4096], 0.25, 2).dataSync() as Float32Array);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const dropped = a.filter((v) => v === 0).length / a.length;
    expect(dropped).toBeGreaterThan(0.2);
    expect(dropped).toBeLessThan(0.3);
  });

  it('uses the seedrandom that tfjs-core draws with', () => {
    // The stream is Alea as seedrandom seeds it: the version tfjs-core depends on must be the one we import.
    const require = createRequire(import.meta.url);
    const version = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const ours = version(require.resolve('seedrandom/package.json'));
    const tfjsCore = createRequire(require.resolve('@tensorflow/tfjs-core/package.json'));
    expect(ours).toBe(version(tfjsCore.resolve('seedrandom/package.json')));
  });
});
