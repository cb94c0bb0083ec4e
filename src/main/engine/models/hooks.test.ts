// Each extension point of ModelHooks, on every family: neutral hooks leave logits unchanged, active ones
// change them, and prefixes/prompts shift positions the way PEFT does.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import type { CausalLM } from './causal-lm';
import type { ModelHooks } from './hooks';
import { KVCache } from './kv-cache';
import { createTinyModel, type TinyArchitecture } from './tiny-model';

const ARCHITECTURES: TinyArchitecture[] = ['llama', 'qwen2', 'gpt2', 'gpt_neox', 'gemma3_text', 'qwen3', 'phi3'];
const IDS = [[4, 9, 13, 2, 30, 7]];
const PREFIX_LEN = 3;

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

/** Runs forward on IDS and returns the logits (caller disposes). */
function run(model: CausalLM, hooks?: ModelHooks, extra: Parameters<CausalLM['forward']>[1] = {}): tf.Tensor3D {
  return tf.tidy(() => model.forward(tf.tensor2d(IDS, undefined, 'int32'), { hooks, ...extra }));
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each(ARCHITECTURES)('%s hooks', (architecture) => {
  let model: CausalLM;
  let base: tf.Tensor3D;
  let prefixKeys: tf.Tensor4D;
  let prefixValues: tf.Tensor4D;
  const isRope = architecture !== 'gpt2';

  beforeAll(() => {
    model = createTinyModel(architecture, { seed: 5 });
    base = run(model);
    const { kvHeads, headDim } = model.config;
    prefixKeys = tf.randomNormal([1, kvHeads, PREFIX_LEN, headDim], 0, 1, 'float32', 1);
    prefixValues = tf.randomNormal([1, kvHeads, PREFIX_LEN, headDim], 0, 1, 'float32', 2);
  });
  afterAll(() => {
    tf.dispose([base, prefixKeys, prefixValues]);
    model.dispose();
  });

  const prefixHooks = (): ModelHooks => ({ prefixKeyValues: () => ({ keys: prefixKeys, values: prefixValues }) });

  it('attentionOutputTerm: a zero term leaves logits unchanged, a non-zero one changes them', () => {
    const seen: { pre: number[]; post: number[]; isRotated: boolean }[] = [];
    const zero = run(model, {
      attentionOutputTerm: (_layer, { queryPreRope, queryPostRope }) => {
        seen.push({ pre: queryPreRope.shape, post: queryPostRope.shape, isRotated: maxAbsDiff(queryPreRope, queryPostRope) > 0 });
        return tf.zerosLike(queryPreRope);
      },
    });
    expect(maxAbsDiff(zero, base)).toBe(0);
    const { heads, headDim, layers } = model.config;
    expect(seen).toHaveLength(layers);
    expect(seen[0].pre).toEqual([1, heads, IDS[0].length, headDim]);
    expect(seen[0].isRotated).toBe(isRope);
    const shifted = run(model, { attentionOutputTerm: (layer, { queryPreRope }) => (layer === 1 ? tf.onesLike(queryPreRope).mul(0.5) : null) });
    expect(maxAbsDiff(shifted, base)).toBeGreaterThan(1e-3);
    tf.dispose([zero, shifted]);
  });

  it('prefixKeyValues: p prefix tokens change logits and are visible to every token', () => {
    const probs: number[][][][][] = [];
    const withPrefix = run(model, { ...prefixHooks(), onAttentionProbs: (_layer, p) => probs.push(p.arraySync()) });
    expect(withPrefix.shape).toEqual(base.shape);
    expect(maxAbsDiff(withPrefix, base)).toBeGreaterThan(1e-3);
    const T = IDS[0].length;
    const rows = probs[0][0][0]; // layer 0, batch 0, head 0: [T, p + T]
    expect(rows[0]).toHaveLength(PREFIX_LEN + T);
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < PREFIX_LEN; j++) expect(rows[i][j]).toBeGreaterThan(0); // prefix visible to all
      for (let j = i + 1; j < T; j++) expect(rows[i][PREFIX_LEN + j]).toBe(0); // causal among real tokens
    }
    withPrefix.dispose();
  });

  it('prefixKeyValues: real tokens take positions p, p+1, … (as with positionOffset p)', () => {
    if (!isRope) {
      // Learned positions: the prefix shifts which position rows are added, as an offset does.
      const queries: tf.Tensor[] = [];
      const grab: ModelHooks['attentionOutputTerm'] = (layer, { queryPreRope }) => {
        if (layer === 0) queries.push(tf.keep(queryPreRope.clone())); // outlive the forward's tidy
        return null;
      };
      tf.dispose(run(model, { ...prefixHooks(), attentionOutputTerm: grab }));
      tf.dispose(run(model, { attentionOutputTerm: grab }, { positionOffset: PREFIX_LEN }));
      expect(maxAbsDiff(queries[0], queries[1])).toBeLessThan(1e-6);
      tf.dispose(queries);
      return;
    }
    const rotated: tf.Tensor[] = [];
    const grab: ModelHooks['attentionOutputTerm'] = (layer, { queryPostRope }) => {
      if (layer === 0) rotated.push(tf.keep(queryPostRope.clone()));
      return null;
    };
    tf.dispose(run(model, { ...prefixHooks(), attentionOutputTerm: grab }));
    tf.dispose(run(model, { attentionOutputTerm: grab }, { positionOffset: PREFIX_LEN }));
    tf.dispose(run(model, { attentionOutputTerm: grab }));
    expect(maxAbsDiff(rotated[0], rotated[1])).toBeLessThan(1e-6);
    expect(maxAbsDiff(rotated[0], rotated[2])).toBeGreaterThan(1e-3);
    tf.dispose(rotated);
  });

  it('prefixKeyValues: cached decoding equals full recomputation with the prefix', () => {
    const full = run(model, prefixHooks());
    const cache = new KVCache(model.config.layers);
    const hooks = prefixHooks();
    const feed = (ids: number[]): tf.Tensor3D => tf.tidy(() => model.forward(tf.tensor2d([ids], undefined, 'int32'), { hooks, cache }));
    const steps = [feed(IDS[0].slice(0, 2)), ...IDS[0].slice(2).map((id) => feed([id]))];
    expect(cache.prefixLength).toBe(PREFIX_LEN);
    const incremental = tf.concat(steps, 1);
    expect(maxAbsDiff(full, incremental)).toBeLessThan(1e-5);
    tf.dispose([full, incremental, ...steps]);
    cache.dispose();
  });

  it('inputPrefixEmbeddings: returns real-token logits; positions run over prompt + input', () => {
    const promptIds = [21, 6];
    const embedName = [...model.weights.keys()][0]; // the token embedding comes first in every family
    // Gemma scales token embeddings by √D in its embedding module (transformers' Gemma3TextScaledWordEmbedding): a real token enters as its scaled row.
    const embedScale = architecture === 'gemma3_text' ? Math.sqrt(model.config.hidden) : 1;
    const promptEmbeddings = tf.tidy(() => tf.gather(model.weights.get(embedName)!, promptIds).mul(embedScale).expandDims(0)) as tf.Tensor3D; // [1, 2, D]
    const prompted = run(model, { inputPrefixEmbeddings: () => promptEmbeddings });
    expect(prompted.shape).toEqual(base.shape);
    // Virtual tokens equal to real embeddings behave exactly like those tokens in the input.
    const explicit = tf.tidy(() => model.forward(tf.tensor2d([[...promptIds, ...IDS[0]]], undefined, 'int32')).slice([0, promptIds.length, 0], [1, -1, -1]));
    expect(maxAbsDiff(prompted, explicit)).toBeLessThan(1e-5);
    tf.dispose([promptEmbeddings, prompted, explicit]);
  });

  it('wrapLinear: names every linear layer; identity leaves logits unchanged, a delta changes them', () => {
    const names: string[] = [];
    const identity = run(model, {
      wrapLinear: (name, x, baseLinear) => {
        names.push(name);
        return baseLinear(x);
      },
    });
    expect(maxAbsDiff(identity, base)).toBe(0);
    const expected = {
      llama: 'model.layers.0.self_attn.q_proj',
      qwen2: 'model.layers.1.mlp.down_proj',
      gpt2: 'transformer.h.0.attn.c_attn',
      gpt_neox: 'gpt_neox.layers.1.attention.query_key_value',
      gemma3_text: 'model.layers.1.mlp.gate_proj',
      qwen3: 'model.layers.0.self_attn.k_proj',
      phi3: 'model.layers.1.mlp.gate_up_proj',
    }[architecture as 'llama'];
    expect(names).toContain(expected);
    const changed = run(model, { wrapLinear: (name, x, baseLinear) => (name === expected ? baseLinear(x).add(0.1) : baseLinear(x)) });
    expect(maxAbsDiff(changed, base)).toBeGreaterThan(1e-3);
    tf.dispose([identity, changed]);
  });

  it('onAttentionProbs: [B, H, T, S] rows that sum to one, per layer', () => {
    const shapes: number[][] = [];
    const sums: number[] = [];
    const logits = run(model, {
      onAttentionProbs: (_layer, probs) => {
        shapes.push(probs.shape);
        sums.push(...(probs.sum(-1).dataSync() as Float32Array));
      },
    });
    expect(shapes).toEqual(new Array(model.config.layers).fill([1, model.config.heads, IDS[0].length, IDS[0].length]));
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    logits.dispose();
  });

  it('hooks add no leaks and are differentiable (a Prefix-Tuning+-style memory gets gradients)', () => {
    const before = tf.memory().numTensors;
    const { heads, headDim } = model.config;
    const initial = tf.zeros([heads, headDim, headDim]);
    const memory = tf.variable(initial, true, `test-memory-${architecture}`);
    initial.dispose();
    // tfjs has no gradient for einsum: per-head matMul over [H, B·T, d] instead of 'bhtd,hde->bhte'.
    const hooks: ModelHooks = {
      attentionOutputTerm: (_layer, { queryPreRope }) => {
        const [batchSize, numHeads, seqLen] = queryPreRope.shape;
        const features = tf
          .elu(queryPreRope)
          .transpose([1, 0, 2, 3])
          .reshape([numHeads, batchSize * seqLen, headDim]); // [H, B·T, d]
        return tf.matMul(features, memory).reshape([numHeads, batchSize, seqLen, headDim]).transpose([1, 0, 2, 3]) as tf.Tensor4D; // [B, H, T, d]
      },
    };
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => model.forward(ids, { hooks }).square().mean() as tf.Scalar);
    expect(Object.keys(grads)).toEqual([memory.name]);
    expect(tf.tidy(() => grads[memory.name].abs().sum().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([value, ids, memory, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
