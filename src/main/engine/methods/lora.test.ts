// LoRA: identity at init, target resolution (PEFT's family defaults, all-linear), merging into each family's
// weight layout (GPT-2 Conv1D is [in, out]), and seeded train-only dropout.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { loadModel, type LoadedModel } from '../io/load-model';
import type { CausalLM } from '../models/causal-lm';
import { linearModules, loraMethod, loraOptions, resolveTargets, type LoraAdapter } from './lora';
import { fixedIds, HAS_STORIES, maxAbsDiff, perturb, STORIES_DIR, tinyModel, type TinyFamily } from './test-utils';

beforeAll(async () => {
  await initBackend('cpu');
});

function attach(model: CausalLM, raw: Record<string, unknown>, seed = 1): LoraAdapter {
  return loraMethod.attach(model, loraOptions.parse(raw), { seed });
}

describe.skipIf(!HAS_STORIES)('LoRA on stories260K (shared model; skipped when absent)', () => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadModel(STORIES_DIR);
  });
  afterAll(() => loaded?.dispose());

  it.each([{}, { targets: 'all-linear', rank: 4, rsLora: true }])('leaves the logits unchanged at init: %o', (options) => {
    const ids = fixedIds(2, 12, 512);
    const adapter = attach(loaded.model, options);
    try {
      const base = tf.tidy(() => loaded.model.forward(ids).dataSync());
      const adapted = tf.tidy(() => loaded.model.forward(ids, { hooks: adapter.hooks }).dataSync());
      expect(maxAbsDiff(adapted, base)).toBeLessThanOrEqual(1e-6);
      // A is Kaiming-uniform U(±1/√in) and non-zero, B is zero.
      const state = adapter.stateDict();
      const a = state['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'];
      expect(a.shape).toEqual([adapter.options.rank, 64]);
      expect(Math.max(...a.data.map(Math.abs))).toBeLessThanOrEqual(1 / 8);
      expect(Math.max(...a.data.map(Math.abs))).toBeGreaterThan(0.05);
      expect(state['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'].data.every((v) => v === 0)).toBe(true);
    } finally {
      ids.dispose();
      adapter.dispose();
    }
  });
});

describe('LoRA targets', () => {
  it.each([
    ['llama', ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']],
    ['gpt2', ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']],
    ['gpt_neox', ['gpt_neox.layers.0.attention.query_key_value', 'gpt_neox.layers.1.attention.query_key_value']],
  ] as const)('%s: family defaults as in PEFT', (family, expected) => {
    const model = tinyModel(family);
    try {
      expect(resolveTargets(model.config, 'default').map((m) => m.name)).toEqual(expected);
    } finally {
      model.dispose();
    }
  });

  it.each(['llama', 'gpt2', 'gpt_neox'] as const)('%s: all-linear is exactly what wrapLinear sees, minus the LM head, with its shapes', (family) => {
    const model = tinyModel(family);
    const seen = new Map<string, [number, number]>();
    try {
      tf.tidy(() => {
        model.forward(fixedIds(1, 2, 32), {
          hooks: {
            wrapLinear: (name, x, base) => {
              const y = base(x);
              seen.set(name, [x.shape[1], y.shape[1]]);
              return y;
            },
          },
        });
      });
      const head = family === 'gpt_neox' ? 'embed_out' : 'lm_head';
      expect(seen.has(head)).toBe(true);
      seen.delete(head);
      const modules = linearModules(model.config);
      expect(modules.map((m) => m.name).sort()).toEqual([...seen.keys()].sort());
      for (const m of modules) expect([m.inDim, m.outDim], m.name).toEqual(seen.get(m.name));
    } finally {
      model.dispose();
    }
  });

  it('explicit names match as in PEFT (equal or ending in .name) and an unmatched list fails listing what exists', () => {
    const model = tinyModel('llama');
    try {
      expect(resolveTargets(model.config, ['layers.1.mlp.down_proj', 'o_proj']).map((m) => m.name)).toEqual([
        'model.layers.0.self_attn.o_proj',
        'model.layers.1.self_attn.o_proj',
        'model.layers.1.mlp.down_proj',
      ]);
      expect(() => resolveTargets(model.config, ['proj'])).toThrow(/match no linear layer.*q_proj/);
    } finally {
      model.dispose();
    }
  });
});

describe('merging', () => {
  it.each(['llama', 'gpt2', 'gpt_neox'] as TinyFamily[])('%s: a model with mergedWeights() gives the adapted logits', (family) => {
    const model = tinyModel(family, 4);
    const ids = fixedIds(2, 5, 32);
    const adapter = attach(model, { targets: 'all-linear', rank: 3, alpha: 6 });
    try {
      perturb(adapter.trainableVariables(), 0.3, 8);
      const adapted = tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync());
      const merged = adapter.mergedWeights();
      expect(merged.size).toBe(adapter.modules.length);
      const originals = new Map<string, tf.Tensor>();
      for (const [name, weight] of merged) {
        expect(weight.shape, name).toEqual(model.weights.get(name)!.shape);
        originals.set(name, model.weights.get(name)!);
        model.weights.set(name, weight);
      }
      const mergedLogits = tf.tidy(() => model.forward(ids).dataSync());
      for (const [name, weight] of originals) model.weights.set(name, weight);
      tf.dispose([...merged.values()]);
      expect(maxAbsDiff(mergedLogits, adapted)).toBeLessThan(1e-4);
    } finally {
      ids.dispose();
      adapter.dispose();
      model.dispose();
    }
  });
});

describe('dropout', () => {
  it('applies only while training, seeded: same seed same masks, steps differ', () => {
    const model = tinyModel('llama', 6);
    const ids = fixedIds(2, 5, 32);
    const first = attach(model, { dropout: 0.5 }, 3);
    const second = attach(model, { dropout: 0.5 }, 3);
    try {
      perturb(first.trainableVariables(), 0.3, 2);
      second.loadStateDict(first.stateDict());
      const run = (a: LoraAdapter): Float32Array => tf.tidy(() => model.forward(ids, { hooks: a.hooks }).dataSync() as Float32Array);
      const evalLogits = run(first);
      expect(maxAbsDiff(run(second), evalLogits)).toBe(0);
      first.setTraining(true);
      second.setTraining(true);
      const step1 = run(first);
      expect(maxAbsDiff(step1, evalLogits)).toBeGreaterThan(1e-3);
      expect(maxAbsDiff(run(second), step1)).toBe(0);
      expect(maxAbsDiff(run(first), step1)).toBeGreaterThan(1e-4);
      first.setTraining(false);
      expect(maxAbsDiff(run(first), evalLogits)).toBe(0);
    } finally {
      ids.dispose();
      first.dispose();
      second.dispose();
      model.dispose();
    }
  });
});
