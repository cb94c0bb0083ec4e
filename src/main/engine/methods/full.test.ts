// Full fine-tuning: weight selection, no decay for norms/biases, the memory estimate and its warning, and
// a dispose that leaves the (trained) model usable with plain tensors again.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { estimateFullMemory, fullMemoryWarning, fullMethod, fullOptions, selectFullWeights } from './full';
import { fixedIds, maxAbsDiff, perturb, tinyModel } from './test-utils';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('full fine-tuning', () => {
  it('selects weights by name part and can freeze the embeddings', () => {
    const model = tinyModel('gpt2');
    try {
      const names = [...model.weights.keys()];
      expect(selectFullWeights(names, fullOptions.parse({}))).toEqual(names);
      expect(selectFullWeights(names, fullOptions.parse({ include: ['h.1.attn'] }))).toEqual([
        'transformer.h.1.attn.c_attn.weight',
        'transformer.h.1.attn.c_attn.bias',
        'transformer.h.1.attn.c_proj.weight',
        'transformer.h.1.attn.c_proj.bias',
      ]);
      const frozen = selectFullWeights(names, fullOptions.parse({ freezeEmbeddings: true }));
      expect(frozen).not.toContain('transformer.wte.weight');
      expect(frozen).not.toContain('transformer.wpe.weight');
      expect(frozen.length).toBe(names.length - 2);
      expect(() => selectFullWeights(names, fullOptions.parse({ include: ['nothing'] }))).toThrow(/include/);
    } finally {
      model.dispose();
    }
  });

  it('gives no weight decay to exactly the norm scales and biases', () => {
    const model = tinyModel('gpt_neox');
    const adapter = fullMethod.attach(model, fullOptions.parse({}), { seed: 1 });
    try {
      const noDecay = adapter.noDecayVariableNames!();
      const variables = adapter.trainableVariables();
      const expected = variables.filter((v) => /(layernorm|layer_norm|\.bias)/.test(v.name)).map((v) => v.name);
      expect([...noDecay].sort()).toEqual(expected.sort());
      expect(noDecay.size).toBeGreaterThan(0);
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });

  it('estimates weights + gradients + 2 Adam moments at 4 bytes each, and warns when they do not fit', () => {
    const model = tinyModel('llama');
    try {
      const all = estimateFullMemory(model.config, fullOptions.parse({}));
      expect(all.trainedParameters).toBe(model.config.parameters);
      expect(all.totalBytes).toBe(16 * model.config.parameters);
      expect(estimateFullMemory(model, fullOptions.parse({}))).toEqual(all);
      const some = estimateFullMemory(model.config, fullOptions.parse({ include: ['mlp'] }));
      expect(some.totalBytes).toBe(4 * model.config.parameters + 12 * some.trainedParameters);
      expect(fullMemoryWarning(all, 2 ** 40)).toBeNull();
      expect(fullMemoryWarning(all, 1000)).toMatch(/needs about .* GiB .* only 0\.00 GiB is free/);
      // A 7B-parameter config needs ~104 GiB: weights 26 + grads 26 + moments 52.
      const big = estimateFullMemory(
        { ...model.config, architecture: 'llama', hidden: 4096, intermediate: 11008, layers: 32, heads: 32, kvHeads: 32, headDim: 128, vocabSize: 32000 } as typeof model.config,
        fullOptions.parse({}),
      );
      expect(big.totalBytes / 2 ** 30).toBeGreaterThan(95);
    } finally {
      model.dispose();
    }
  });

  it('dispose turns the trained variables back into plain tensors with their trained values', () => {
    const model = tinyModel('llama', 2);
    const ids = fixedIds(1, 4, 32);
    const before = tf.memory().numTensors;
    const variablesBefore = Object.keys(tf.engine().registeredVariables).length;
    try {
      const adapter = fullMethod.attach(model, fullOptions.parse({ include: ['self_attn'] }), { seed: 1 });
      expect(adapter.weightNames.length).toBe(2 * 4);
      expect(Object.keys(tf.engine().registeredVariables).length).toBe(variablesBefore + 8);
      perturb(adapter.trainableVariables(), 0.1, 1);
      const trained = tf.tidy(() => model.forward(ids).dataSync());
      adapter.dispose();
      expect(Object.keys(tf.engine().registeredVariables).length).toBe(variablesBefore);
      expect([...model.weights.values()].some((w) => w instanceof tf.Variable)).toBe(false);
      expect(tf.memory().numTensors).toBe(before);
      expect(
        maxAbsDiff(
          tf.tidy(() => model.forward(ids).dataSync()),
          trained,
        ),
      ).toBe(0);
    } finally {
      ids.dispose();
      model.dispose();
    }
  });

  it('stateSources names the stateDict tensors and reads each value only when asked (checkpoints stream them)', () => {
    const model = tinyModel('llama', 2);
    const adapter = fullMethod.attach(model, fullOptions.parse({ include: ['mlp'] }), { seed: 1 });
    try {
      const sources = adapter.stateSources!();
      // Changed after the sources were made: a lazy source sees the new values, an eager copy would not.
      perturb(adapter.trainableVariables(), 0.1, 2);
      const state = adapter.stateDict();
      expect(Object.keys(sources)).toEqual(Object.keys(state));
      for (const [name, { shape, data }] of Object.entries(state)) {
        expect(sources[name].shape).toEqual(shape);
        expect(maxAbsDiff(sources[name].read(), data)).toBe(0);
      }
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });
});
