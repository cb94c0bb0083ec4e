// Every registered method: options schema, parameter counts, gradients against finite differences,
// save/load through safetensors, no leaked tensors, and cached decoding.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { SafetensorsReader, writeSafetensors } from '../io/safetensors';
import type { CausalLM } from '../models/causal-lm';
import { KVCache } from '../models/kv-cache';
import type { StateDict } from './method';
import { allMethods, getMethod, methodOptionsJsonSchema, parseMethodOptions } from './registry';
import { fixedIds, gradientCheck, maxAbsDiff, perturb, tinyModel } from './test-utils';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Sum of logits · fixed random weights: every logit gets a distinct, non-trivial gradient. */
function logitLoss(model: CausalLM, hooks: Parameters<CausalLM['forward']>[1] extends infer O ? (O extends { hooks?: infer H } ? H : never) : never) {
  const ids = fixedIds(2, 5, model.config.vocabSize);
  const weights = tf.randomNormal([2, 5, model.config.vocabSize], 0, 1, 'float32', 99);
  return {
    loss: () => tf.tidy(() => model.forward(ids, { hooks }).mul(weights).sum() as tf.Scalar),
    dispose: () => tf.dispose([ids, weights]),
  };
}

describe('method registry', () => {
  it('lists the five methods and finds each by name', () => {
    expect(allMethods().map((m) => m.name)).toEqual(['ptplus', 'prefix', 'prompt', 'lora', 'full']);
    for (const m of allMethods()) expect(getMethod(m.name)).toBe(m);
    expect(() => getMethod('ia3')).toThrow(/unknown method 'ia3'/);
  });

  it.each(allMethods().map((m) => m.name))('%s: JSON Schema gives every option a description and a default', (name) => {
    const schema = methodOptionsJsonSchema(name) as { properties: Record<string, { description?: string; default?: unknown }>; required?: string[] };
    const fields = Object.entries(schema.properties);
    expect(fields.length).toBeGreaterThan(0);
    for (const [field, prop] of fields) {
      expect(prop.description, field).toMatch(/\w{3,}/);
      expect('default' in prop, field).toBe(true);
    }
    expect(schema.required ?? []).toEqual([]);
    // Defaults alone are valid options.
    expect(parseMethodOptions(name, {})).toEqual(getMethod(name).options.parse({}));
  });

  it('rejects bad options naming the field', () => {
    expect(() => parseMethodOptions('lora', { rank: 0 })).toThrow(/rank/);
    expect(() => parseMethodOptions('ptplus', { variant: 'normalised' })).toThrow(/featureMap.*elu\+1/);
    expect(() => parseMethodOptions('prompt', { init: 'text' })).toThrow(/initText/);
  });
});

describe.each(allMethods().map((m) => m.name))('%s on a tiny LLaMA', (name) => {
  const method = getMethod(name);
  let model: CausalLM;
  beforeAll(() => {
    model = tinyModel('llama', 1);
  });
  afterAll(() => model.dispose());

  it('countParameters matches the variables attach creates', () => {
    const options = method.options.parse({});
    const adapter = method.attach(model, options, { seed: 1 });
    try {
      expect(adapter.trainableParamCount()).toBe(method.countParameters(model.config, options));
      expect(adapter.trainableParamCount()).toBe(adapter.trainableVariables().reduce((s, v) => s + v.size, 0));
    } finally {
      adapter.dispose();
    }
  });

  it('save → safetensors → load restores the same logits; bad dicts fail naming the tensor', () => {
    const options = method.options.parse({});
    const ids = fixedIds(2, 6, model.config.vocabSize);
    const dir = mkdtempSync(join(tmpdir(), 'prefixlab-methods-'));
    const fresh = tinyModel('llama', 1); // an unchanged copy of the base for the loading side
    try {
      const source = method.attach(model, options, { seed: 1 });
      perturb(source.trainableVariables(), 0.2, 5);
      const expected = tf.tidy(() => model.forward(ids, { hooks: source.hooks }).dataSync());
      const state = source.stateDict();
      source.dispose();
      const file = join(dir, 'adapter_model.safetensors');
      writeSafetensors(file, Object.fromEntries(Object.entries(state).map(([k, v]) => [k, { dtype: 'F32' as const, ...v }])), { format: 'pt' });
      const reader = SafetensorsReader.open(file);
      const loaded: StateDict = {};
      for (const key of reader.tensors.keys()) {
        const t = reader.read(key);
        loaded[key] = { shape: t.shape, data: t.data as Float32Array };
      }
      reader.close();

      const target = method.attach(fresh, options, { seed: 2 });
      try {
        target.loadStateDict(loaded);
        const actual = tf.tidy(() => fresh.forward(ids, { hooks: target.hooks }).dataSync());
        expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-6);

        const [firstKey, firstEntry] = Object.entries(loaded)[0];
        const missing = { ...loaded };
        delete missing[firstKey];
        expect(() => target.loadStateDict(missing)).toThrow(firstKey);
        const wrongShape = { ...loaded, [firstKey]: { shape: [...firstEntry.shape, 1], data: firstEntry.data } };
        expect(() => target.loadStateDict(wrongShape)).toThrow(firstKey);
        expect(() => target.loadStateDict({ ...loaded, 'base_model.model.extra': firstEntry })).toThrow('base_model.model.extra');
      } finally {
        target.dispose();
      }
    } finally {
      ids.dispose();
      fresh.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaks no tensor: attach, train step, save, load, dispose (baseline before the model)', () => {
    const baseline = tf.memory().numTensors;
    const own = tinyModel('llama', 3);
    const adapter = method.attach(own, method.options.parse({}), { seed: 1 });
    adapter.setTraining(true);
    const { loss, dispose } = logitLoss(own, adapter.hooks);
    const { value, grads } = tf.variableGrads(loss, adapter.trainableVariables());
    tf.dispose([value, grads]);
    adapter.setTraining(false);
    adapter.loadStateDict(adapter.stateDict());
    dispose();
    adapter.dispose();
    own.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('leaves the model as it found it (tensor count) when disposed', () => {
    const before = tf.memory().numTensors;
    const adapter = method.attach(model, method.options.parse({}), { seed: 4 });
    tf.tidy(() => {
      model.forward(fixedIds(1, 3, model.config.vocabSize), { hooks: adapter.hooks });
    });
    adapter.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

// ---- gradients ----

/** step: the finite-difference step; the MLP kernel's ReLU kinks need a smaller one than the smooth maps. */
const GRADIENT_CASES: { label: string; method: string; options: Record<string, unknown>; step?: number }[] = [
  { label: 'ptplus elu, pre-RoPE, per-head', method: 'ptplus', options: {} },
  { label: 'ptplus gelu, post-RoPE, cross-head', method: 'ptplus', options: { featureMap: 'gelu', queryRope: 'post', memory: 'cross-head' } },
  { label: 'ptplus mlp kernel d_φ 6', method: 'ptplus', options: { featureMap: 'mlp', phiDim: 6 }, step: 1e-3 },
  { label: 'ptplus normalised elu+1', method: 'ptplus', options: { featureMap: 'elu+1', variant: 'normalised', lambda: 0.6 } },
  { label: 'ptplus centred, layer 1 only', method: 'ptplus', options: { phiCenter: 'data-mean', layers: [1] } },
  { label: 'prefix with MLP reparameterisation', method: 'prefix', options: { numVirtualTokens: 3 } },
  { label: 'prefix without reparameterisation', method: 'prefix', options: { numVirtualTokens: 3, projection: false } },
  { label: 'prompt', method: 'prompt', options: { numVirtualTokens: 3, init: 'random', randomStd: 0.5 } },
  { label: 'lora default targets', method: 'lora', options: { rank: 2 } },
  { label: 'lora all-linear rsLoRA', method: 'lora', options: { rank: 2, alpha: 2, targets: 'all-linear', rsLora: true } },
  { label: 'full', method: 'full', options: {} },
];

describe('analytic gradients match central finite differences (float32, step 1e-2 unless noted, rel. error ≤ 1e-2)', () => {
  it.each(GRADIENT_CASES)('$label', ({ method: name, options, step = 1e-2 }) => {
    const model = tinyModel('llama', 11);
    const method = getMethod(name);
    const adapter = method.attach(model, parseMethodOptions(name, options), { seed: 3 });
    // Small random values everywhere, so that e.g. PT+'s kernel and LoRA's A get non-zero gradients.
    perturb(adapter.trainableVariables(), 0.2, 17);
    if (name === 'ptplus' && options.phiCenter) {
      tf.tidy(() => {
        const state = adapter.stateDict();
        for (const key of Object.keys(state)) if (key.endsWith('ptplus_phi_mean')) state[key].data.forEach((_, i, a) => (a[i] = 0.1 * Math.sin(i + 1)));
        adapter.loadStateDict(state);
      });
    }
    const { loss, dispose } = logitLoss(model, adapter.hooks);
    try {
      const variables = adapter.trainableVariables();
      const samples = name === 'full' ? 3 : 6;
      const checks = gradientCheck(loss, variables, { step, samples });
      expect(checks.length).toBe(variables.length);
      for (const check of checks) {
        expect(Math.max(...check.analytic.map(Math.abs)), check.name).toBeGreaterThan(1e-4);
        expect(check.relError, `${check.name}: analytic ${check.analytic} vs numeric ${check.numeric}`).toBeLessThanOrEqual(1e-2);
      }
    } finally {
      dispose();
      adapter.dispose();
      model.dispose();
    }
  });
});

// ---- cached decoding (prefix/prompt hooks run on the first call only, PT+/LoRA on every call) ----

describe.each([
  ['prefix', { numVirtualTokens: 3 }],
  ['prompt', { numVirtualTokens: 3, init: 'random', randomStd: 0.5 }],
  ['ptplus', { queryRope: 'post' }],
  ['lora', { targets: 'all-linear' }],
] as const)('%s with a KV cache', (name, options) => {
  it.each(['llama', 'gpt2', 'gpt_neox'] as const)('%s: decoding step by step gives the full-sequence logits', (family) => {
    const model = tinyModel(family, 3);
    const ids = fixedIds(2, 6, 32);
    const adapter = getMethod(name).attach(model, parseMethodOptions(name, options), { seed: 1 });
    const cache = new KVCache(model.config.layers);
    try {
      perturb(adapter.trainableVariables(), 0.1, 3);
      const full = tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).slice([0, 5, 0], [2, 1, 32]).dataSync());
      tf.tidy(() => {
        model.forward(ids.slice([0, 0], [2, 4]), { hooks: adapter.hooks, cache });
        model.forward(ids.slice([0, 4], [2, 1]), { hooks: adapter.hooks, cache });
      });
      const last = tf.tidy(() => model.forward(ids.slice([0, 5], [2, 1]), { hooks: adapter.hooks, cache }).dataSync());
      expect(maxAbsDiff(last, full)).toBeLessThan(1e-5);
    } finally {
      cache.dispose();
      ids.dispose();
      adapter.dispose();
      model.dispose();
    }
  });
});
