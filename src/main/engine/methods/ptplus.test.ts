// Prefix-Tuning+: identity at init on stories260K, agreement with the independent PyTorch reference
// (tests/fixtures/peft/make_ptplus_reference.py), φ-mean centring, export names per family, wasm parity.
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { loadModel, type LoadedModel } from '../io/load-model';
import { SafetensorsReader } from '../io/safetensors';
import type { StateDict } from './method';
import { computePhiMean, ptplusMethod, ptplusOptions, type PtPlusAdapter } from './ptplus';
import { fixedIds, HAS_STORIES, maxAbsDiff, PEFT_FIXTURES, perturb, relativeError, STORIES_DIR, tinyModel } from './test-utils';

const REFERENCE = join(PEFT_FIXTURES, 'ptplus_reference.safetensors');
const REFERENCE_META = join(PEFT_FIXTURES, 'ptplus_reference.json');

beforeAll(async () => {
  await initBackend('cpu');
});

function attach(model: LoadedModel['model'], raw: Record<string, unknown>, seed = 1): PtPlusAdapter {
  return ptplusMethod.attach(model, ptplusOptions.parse(raw), { seed });
}

/** Mean next-token cross-entropy, as the reference script defines its loss. */
function nextTokenLoss(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Scalar {
  const [batchSize, seqLen, vocab] = logits.shape;
  const predicted = logits.slice([0, 0, 0], [batchSize, seqLen - 1, vocab]).reshape([-1, vocab]); // [B·(T−1), V]
  const targets = ids
    .slice([0, 1], [batchSize, seqLen - 1])
    .reshape([-1])
    .toInt(); // [B·(T−1)]
  return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, vocab), predicted) as tf.Scalar;
}

describe.skipIf(!HAS_STORIES)('PT+ on stories260K (shared model; skipped when absent)', () => {
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadModel(STORIES_DIR);
  });
  afterAll(() => loaded?.dispose());

  it.each([
    {},
    { queryRope: 'post' },
    { featureMap: 'gelu', memory: 'cross-head' },
    { featureMap: 'mlp', phiDim: 16 },
    { featureMap: 'elu+1', layers: [0, 4] },
    { phiCenter: 'data-mean' },
  ])('leaves the logits unchanged at init: %o', async (options) => {
    const model = loaded.model;
    const ids = fixedIds(2, 12, model.config.vocabSize);
    const adapter = attach(model, options);
    try {
      if (adapter.options.phiCenter === 'data-mean') await computePhiMean(model, adapter, [{ inputIds: ids }]);
      const base = tf.tidy(() => model.forward(ids).dataSync());
      const adapted = tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync());
      expect(maxAbsDiff(adapted, base)).toBeLessThanOrEqual(1e-6);
    } finally {
      adapter.dispose();
      ids.dispose();
    }
  });

  const fixtureReady = existsSync(REFERENCE) && existsSync(REFERENCE_META);
  it.skipIf(!fixtureReady)('matches the independent PyTorch reference: logits ≤ 1e-4, gradients ≤ 1e-3 relative', () => {
    const meta = JSON.parse(readFileSync(REFERENCE_META, 'utf8')) as { model_sha256: string; cases: { name: string; options: Record<string, unknown> }[] };
    const modelHash = createHash('sha256')
      .update(readFileSync(join(STORIES_DIR, 'model.safetensors')))
      .digest('hex');
    expect(modelHash, 'stories260K changed since the fixture was made: rerun make_ptplus_reference.py').toBe(meta.model_sha256);
    const model = loaded.model;
    const reader = SafetensorsReader.open(REFERENCE);
    try {
      const read = (name: string): { shape: number[]; data: Float32Array } => {
        const t = reader.read(name);
        return { shape: t.shape, data: Float32Array.from(t.data) };
      };
      const idsEntry = read('input_ids');
      const ids = tf.tensor2d(idsEntry.data, idsEntry.shape as [number, number], 'int32');
      const base = tf.tidy(() => model.forward(ids).dataSync());
      expect(maxAbsDiff(base, read('base/logits').data)).toBeLessThanOrEqual(1e-4);
      expect(meta.cases.length).toBeGreaterThanOrEqual(7);
      for (const { name, options } of meta.cases) {
        const adapter = attach(model, options);
        try {
          const state: StateDict = {};
          const statePrefix = `${name}/state/`;
          for (const key of reader.tensors.keys()) if (key.startsWith(statePrefix)) state[key.slice(statePrefix.length)] = read(key);
          adapter.loadStateDict(state);
          const logits = tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync());
          expect(maxAbsDiff(logits, read(`${name}/logits`).data), `${name} logits`).toBeLessThanOrEqual(1e-4);

          const variables = adapter.trainableVariables();
          const { value, grads } = tf.variableGrads(() => nextTokenLoss(model.forward(ids, { hooks: adapter.hooks }), ids), variables);
          expect(Math.abs(value.dataSync()[0] - read(`${name}/loss`).data[0]), `${name} loss`).toBeLessThanOrEqual(1e-4);
          const stateNames = Object.keys(state).filter((key) => !key.endsWith('ptplus_phi_mean'));
          expect(variables.length).toBe(stateNames.length);
          for (const stateName of stateNames) {
            const variable = variables.find((v) => v.name.endsWith(`/${stateName}`))!;
            const error = relativeError(grads[variable.name].dataSync(), read(`${name}/grad/${stateName}`).data);
            expect(error, `${name} dL/d ${stateName}`).toBeLessThanOrEqual(1e-3);
          }
          tf.dispose([value, grads]);
        } finally {
          adapter.dispose();
        }
      }
      ids.dispose();
    } finally {
      reader.close();
    }
  });

  it('stateDict uses the documented export names and shapes [H, d_φ, d]', () => {
    const adapter = attach(loaded.model, { featureMap: 'mlp', phiDim: 5, phiCenter: 'data-mean', layers: [2] });
    try {
      const state = adapter.stateDict();
      const root = 'base_model.model.model.layers.2.self_attn';
      expect(Object.fromEntries(Object.entries(state).map(([k, v]) => [k, v.shape]))).toEqual({
        [`${root}.ptplus_memory`]: [8, 5, 8],
        [`${root}.ptplus_phi.weight`]: [5, 8],
        [`${root}.ptplus_phi.bias`]: [5],
        [`${root}.ptplus_phi_mean`]: [8, 5],
      });
      expect(state[`${root}.ptplus_memory`].data.every((v) => v === 0)).toBe(true);
      expect(adapter.trainableParamCount()).toBe(8 * 5 * 8 + 5 * 8 + 5);
      expect(adapter.exportConfig()).toMatchObject({
        peft_type: 'PREFIX_TUNING_PLUS',
        feature_map: 'mlp',
        query_rope: 'pre',
        per_head: true,
        num_layers: 5,
        num_attention_heads: 8,
        head_dim: 8,
      });
    } finally {
      adapter.dispose();
    }
  });
});

describe('φ-mean centring', () => {
  it('averages over masked tokens across batches, stores μ, and keeps the identity at init', async () => {
    const model = tinyModel('llama', 5);
    const adapter = attach(model, { phiCenter: 'data-mean', featureMap: 'gelu' });
    const first = fixedIds(2, 6, 32, 1);
    const second = fixedIds(1, 4, 32, 2);
    const mask = tf.tensor2d([
      [1, 1, 1, 0, 0, 0],
      [0, 1, 1, 1, 1, 1],
    ]);
    const baseline = tf.memory().numTensors;
    try {
      const both = await computePhiMean(model, adapter, [{ inputIds: first, tokenMask: mask }, { inputIds: second }]);
      const onlyFirst = await computePhiMean(model, adapter, [{ inputIds: first, tokenMask: mask }]);
      const onlySecond = await computePhiMean(model, adapter, [{ inputIds: second }]);
      expect(tf.memory().numTensors).toBe(baseline);
      for (const layer of [0, 1]) {
        const expected = onlyFirst.get(layer)!.map((v, i) => (8 * v + 4 * onlySecond.get(layer)![i]) / 12); // 8 and 4 tokens
        expect(maxAbsDiff(both.get(layer)!, expected)).toBeLessThan(1e-6);
      }
      // The last call applied its mean (the second batch's) as μ.
      const state = adapter.stateDict();
      expect(Array.from(state['base_model.model.model.layers.1.self_attn.ptplus_phi_mean'].data)).toEqual(Array.from(onlySecond.get(1)!));
      const base = tf.tidy(() => model.forward(first).dataSync());
      const adapted = tf.tidy(() => model.forward(first, { hooks: adapter.hooks }).dataSync());
      expect(maxAbsDiff(adapted, base)).toBe(0);
    } finally {
      tf.dispose([first, second, mask]);
      adapter.dispose();
      model.dispose();
    }
  });

  it('setPhiMean refuses adapters without centring and wrong sizes', () => {
    const model = tinyModel('llama', 5);
    const plain = attach(model, {});
    const centred = attach(model, { phiCenter: 'data-mean' });
    try {
      expect(() => plain.setPhiMean(new Map([[0, new Float32Array(16)]]))).toThrow(/data-mean/);
      expect(() => centred.setPhiMean(new Map([[0, new Float32Array(3)]]))).toThrow(/H·d_φ = 16/);
    } finally {
      plain.dispose();
      centred.dispose();
      model.dispose();
    }
  });
});

describe('PT+ on GPT-2 and GPT-NeoX', () => {
  it.each([
    ['gpt2', 'base_model.model.transformer.h.1.attn.ptplus_memory'],
    ['gpt_neox', 'base_model.model.gpt_neox.layers.1.attention.ptplus_memory'],
  ] as const)('%s: keeps the family module path, identity at init, a non-zero memory changes the logits', (family, key) => {
    const model = tinyModel(family, 2);
    const adapter = attach(model, { queryRope: 'post' });
    const ids = fixedIds(2, 5, 32);
    try {
      expect(adapter.stateDict()[key].shape).toEqual([4, 4, 4]);
      const base = tf.tidy(() => model.forward(ids).dataSync());
      expect(
        maxAbsDiff(
          tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync()),
          base,
        ),
      ).toBe(0);
      perturb(adapter.trainableVariables(), 0.3, 1);
      expect(
        maxAbsDiff(
          tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync()),
          base,
        ),
      ).toBeGreaterThan(1e-3);
    } finally {
      ids.dispose();
      adapter.dispose();
      model.dispose();
    }
  });
});

describe('wasm backend', () => {
  it('computes the same PT+ logits as cpu for every feature map', async () => {
    const wasm = (await probeBackends()).find((s) => s.name === 'wasm');
    if (!wasm?.available) return; // reported by the backend suite
    const optionSets = [{}, { featureMap: 'gelu', queryRope: 'post' }, { featureMap: 'mlp' }, { featureMap: 'elu+1', variant: 'normalised' }];
    const results: Record<string, number[][]> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend);
      const model = tinyModel('llama', 9);
      const ids = fixedIds(2, 5, 32);
      results[backend] = optionSets.map((options) => {
        const adapter = attach(model, { ...options, memoryInitStd: 0.2 });
        try {
          return Array.from(tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync()));
        } finally {
          adapter.dispose();
        }
      });
      ids.dispose();
      model.dispose();
    }
    await initBackend('cpu');
    results.cpu.forEach((logits, i) => expect(maxAbsDiff(results.wasm[i], logits), JSON.stringify(optionSets[i])).toBeLessThan(1e-4));
  });
});
