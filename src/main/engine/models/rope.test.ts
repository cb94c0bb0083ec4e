import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { ConfigFields } from './config-fields';
import { applyRotary, inverseFrequencies, parseRopeScaling, rotaryTables, type RopeConfig } from './rope';

beforeAll(async () => {
  await initBackend('cpu');
});

const plain: RopeConfig = { theta: 10000, rotaryDim: 8, scaling: null };

describe('rope', () => {
  it('uses 1/θ^(2i/d) frequencies; linear scaling divides them', () => {
    const base = inverseFrequencies(plain, 10);
    expect(Array.from(base)).toEqual(Array.from(Float32Array.from([0, 1, 2, 3], (i) => 1 / 10000 ** ((2 * i) / 8))));
    const linear = inverseFrequencies({ ...plain, scaling: { type: 'linear', factor: 4 } }, 10);
    linear.forEach((f, i) => expect(f).toBeCloseTo(base[i] / 4, 10));
  });

  it('dynamic NTK scaling changes nothing within the original context and lowers frequencies beyond it', () => {
    const dynamic: RopeConfig = { ...plain, scaling: { type: 'dynamic', factor: 2, originalMaxPositions: 16 } };
    expect(inverseFrequencies(dynamic, 16)).toEqual(inverseFrequencies(plain, 16));
    const long = inverseFrequencies(dynamic, 64);
    expect(long[0]).toBe(1);
    for (let i = 1; i < long.length; i++) expect(long[i]).toBeLessThan(inverseFrequencies(plain, 64)[i]);
  });

  it('llama3 scaling keeps high frequencies and divides low ones by the factor', () => {
    const rope: RopeConfig = { theta: 500000, rotaryDim: 64, scaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } };
    const scaled = inverseFrequencies(rope, 10);
    const base = inverseFrequencies({ ...rope, scaling: null }, 10);
    expect(scaled[0]).toBe(base[0]);
    expect(scaled[31]).toBeCloseTo(base[31] / 32, 12);
  });

  it('parses rope_scaling and refuses unknown types', () => {
    const fields = (raw: unknown): ConfigFields => new ConfigFields({ rope_scaling: raw }, 'config.json');
    expect(parseRopeScaling(fields({ type: 'linear', factor: 2 }), 2048)).toEqual({ type: 'linear', factor: 2 });
    expect(parseRopeScaling(fields({ rope_type: 'default' }), 2048)).toBeNull();
    expect(() => parseRopeScaling(fields({ rope_type: 'longrope', factor: 2 }), 2048)).toThrow(/longrope/);
  });

  it('rotates the first rotaryDim dims only and preserves norms', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 2, 3, 12], 0, 1, 'float32', 4) as tf.Tensor4D; // [B, H, T, d]
      const tables = rotaryTables(plain, tf.tensor2d([[0, 5, 9]], undefined, 'int32'), 10);
      const rotated = applyRotary(x, tables);
      // Position 0 is the identity; dims past rotaryDim pass through.
      expect(
        rotated
          .slice([0, 0, 0, 0], [1, 2, 1, 12])
          .sub(x.slice([0, 0, 0, 0], [1, 2, 1, 12]))
          .abs()
          .max()
          .dataSync()[0],
      ).toBeLessThan(1e-6);
      expect(
        rotated
          .slice([0, 0, 0, 8], [1, 2, 3, 4])
          .sub(x.slice([0, 0, 0, 8], [1, 2, 3, 4]))
          .abs()
          .max()
          .dataSync()[0],
      ).toBe(0);
      const norms = (t: tf.Tensor): Float32Array => t.square().sum(-1).dataSync() as Float32Array;
      norms(rotated).forEach((n, i) => expect(n).toBeCloseTo(norms(x)[i], 4));
    });
  });
});
