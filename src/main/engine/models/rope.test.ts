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

describe('rope longrope (Phi-3)', () => {
  const short = [1, 1.5, 2, 4];
  const long = [1, 3, 8, 16];
  const phi3Fields = (extra: Record<string, unknown> = {}): ConfigFields =>
    new ConfigFields(
      { max_position_embeddings: 131072, original_max_position_embeddings: 4096, rope_scaling: { type: 'longrope', short_factor: short, long_factor: long }, ...extra },
      'config.json',
    );

  it('parses the factors; the attention factor follows max / original positions as transformers does', () => {
    expect(parseRopeScaling(phi3Fields(), 131072, { rotaryDim: 8 })).toEqual({
      type: 'longrope',
      shortFactor: short,
      longFactor: long,
      originalMaxPositions: 4096,
      attentionFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)),
    });
    // Phi3Config's default original_max_position_embeddings (4096) applies when config.json omits it.
    const noOriginal = new ConfigFields({ rope_scaling: { type: 'longrope', short_factor: short, long_factor: long } }, 'config.json');
    expect(parseRopeScaling(noOriginal, 8192, { originalMaxPositions: 4096 })).toMatchObject({
      originalMaxPositions: 4096,
      attentionFactor: Math.sqrt(1 + Math.log(2) / Math.log(4096)),
    });
    // Without one anywhere: original = max_position_embeddings, factor from rope_scaling; attention_factor wins when given.
    expect(parseRopeScaling(noOriginal, 8192)).toMatchObject({ originalMaxPositions: 8192, attentionFactor: 1 });
    const given = new ConfigFields({ rope_scaling: { type: 'longrope', short_factor: short, long_factor: long, attention_factor: 1.25 } }, 'config.json');
    expect(parseRopeScaling(given, 8192)).toMatchObject({ attentionFactor: 1.25 });
  });

  it('refuses missing or mis-sized factor lists naming rope_scaling, and still refuses unknown types', () => {
    const bad =
      (scaling: Record<string, unknown>): (() => unknown) =>
      () =>
        parseRopeScaling(new ConfigFields({ rope_scaling: scaling }, 'config.json'), 4096, { rotaryDim: 8 });
    expect(bad({ type: 'longrope', long_factor: long })).toThrow(/rope_scaling longrope needs short_factor/);
    expect(bad({ type: 'longrope', short_factor: short, long_factor: [1, 2] })).toThrow(/long_factor has 2 entries; this model's 8 rotary dims need 4/);
    expect(bad({ type: 'longrope', short_factor: [1, -1, 1, 1], long_factor: long })).toThrow(/short_factor, a list of positive numbers/);
    expect(bad({ type: 'yarn', factor: 4 })).toThrow(/type 'yarn' is not supported \(supported: linear, dynamic, llama3, longrope\)/);
  });

  it('divides frequencies by the short factors up to the original context and by the long ones beyond it', () => {
    const scaling = parseRopeScaling(phi3Fields(), 131072, { rotaryDim: 8 });
    const rope: RopeConfig = { ...plain, scaling };
    const base = inverseFrequencies(plain, 10);
    const within = inverseFrequencies(rope, 4096);
    const beyond = inverseFrequencies(rope, 4097);
    base.forEach((f, i) => {
      expect(within[i]).toBeCloseTo(f / short[i], 7); // float32
      expect(beyond[i]).toBeCloseTo(f / long[i], 7);
    });
  });

  it('scales cos and sin by the attention factor', () => {
    const scaling = parseRopeScaling(phi3Fields(), 131072, { rotaryDim: 8 });
    const factor = Math.sqrt(1 + Math.log(32) / Math.log(4096));
    tf.tidy(() => {
      const tables = rotaryTables({ ...plain, scaling }, tf.tensor2d([[0, 3]], undefined, 'int32'), 2);
      const plainTables = rotaryTables(plain, tf.tensor2d([[0, 3]], undefined, 'int32'), 2);
      const cos = tables.cos.dataSync();
      expect(cos[0]).toBeCloseTo(factor, 6); // position 0: cos 0 = 1, times the factor
      // Position 3, frequency 0 (factor 1 in both lists): the plain value times the factor.
      expect(cos[8]).toBeCloseTo(plainTables.cos.dataSync()[8] * factor, 6);
      expect(tables.sinSigned.dataSync()[12]).toBeCloseTo(plainTables.sinSigned.dataSync()[12] * factor, 6);
    });
  });
});
