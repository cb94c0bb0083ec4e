// PT+ data-mean centring checked against an independent computation: a plain-JS (float64) LLaMA forward
// written from the raw stories260K safetensors (RMSNorm, rotate-half RoPE, GQA causal attention, SwiGLU, tied
// head; no tfjs, no engine code) gives every layer's pre-RoPE queries, from which μ = mean of elu(q) over the
// training prompts' tokens, and the centred forward o_h += (elu(q_h) − μ_h) M_h before o_proj. The job's μ
// step (centrePtPlus, on padded batches of encoded examples) and the engine's adapted logits must match it.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { loadModel, type LoadedModel } from '../io/load-model';
import { SafetensorsReader } from '../io/safetensors';
import { centrePtPlus, ptplusMethod, ptplusOptions, type PtPlusAdapter } from '../methods/ptplus';
import { encodeExample, type EncodedExample } from './encode';
import { hasStoriesHf, storiesHf } from './test-fixtures';

// ---- the reference: float64 LLaMA forward over one sequence ----

interface RefConfig {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  eps: number;
  theta: number;
}

type Weights = Map<string, { shape: number[]; data: Float64Array }>;

/** y[o] = Σ_i W[o, i] x[i] for a torch Linear weight [out, in]. */
function matVec(w: { shape: number[]; data: Float64Array }, x: ArrayLike<number>): Float64Array {
  const [out, inDim] = w.shape;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let sum = 0;
    for (let i = 0; i < inDim; i++) sum += w.data[o * inDim + i] * x[i];
    y[o] = sum;
  }
  return y;
}

function rmsNorm(x: Float64Array, gain: Float64Array, eps: number): Float64Array {
  const meanSquare = x.reduce((s, v) => s + v * v, 0) / x.length;
  const scale = 1 / Math.sqrt(meanSquare + eps);
  return x.map((v, i) => v * scale * gain[i]);
}

/** Hugging Face rotate-half RoPE on one head vector at position `pos`. */
function rope(u: Float64Array, pos: number, theta: number): Float64Array {
  const d = u.length;
  const half = d / 2;
  const out = new Float64Array(d);
  for (let i = 0; i < half; i++) {
    const angle = pos * theta ** (-(2 * i) / d);
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    out[i] = u[i] * c - u[i + half] * s;
    out[i + half] = u[i + half] * c + u[i] * s;
  }
  return out;
}

const elu = (v: number): number => (v > 0 ? v : Math.expm1(v));

/**
 * Logits [T][V] of one sequence, and each layer's pre-RoPE queries [layer][t] ([H·d], head-major). `term`, when
 * given, is added to each head's attention output (before o_proj): term(layer, head, qPre_head) → [d].
 */
function referenceForward(
  w: Weights,
  c: RefConfig,
  ids: readonly number[],
  term?: (layer: number, head: number, queryPreRope: Float64Array) => Float64Array,
): { logits: Float64Array[]; queries: Float64Array[][] } {
  const get = (name: string) => w.get(name)!;
  const embed = get('model.embed_tokens.weight');
  let x = ids.map((id) => embed.data.slice(id * c.hidden, (id + 1) * c.hidden));
  const queries: Float64Array[][] = [];
  const group = c.heads / c.kvHeads;
  for (let layer = 0; layer < c.layers; layer++) {
    const p = `model.layers.${layer}`;
    const normed = x.map((row) => rmsNorm(row, get(`${p}.input_layernorm.weight`).data, c.eps));
    const q = normed.map((h) => matVec(get(`${p}.self_attn.q_proj.weight`), h)); // [T][H·d]
    const k = normed.map((h) => matVec(get(`${p}.self_attn.k_proj.weight`), h)); // [T][Hkv·d]
    const v = normed.map((h) => matVec(get(`${p}.self_attn.v_proj.weight`), h)); // [T][Hkv·d]
    queries.push(q);
    const head = (row: Float64Array, index: number) => row.slice(index * c.headDim, (index + 1) * c.headDim);
    x = x.map((row, t) => {
      const attnOut = new Float64Array(c.heads * c.headDim);
      for (let h = 0; h < c.heads; h++) {
        const g = Math.floor(h / group);
        const qRot = rope(head(q[t], h), t, c.theta);
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          const kRot = rope(head(k[j], g), j, c.theta);
          return qRot.reduce((s, val, i) => s + val * kRot[i], 0) / Math.sqrt(c.headDim);
        });
        const max = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - max));
        const total = weights.reduce((a, b) => a + b, 0);
        const out = new Float64Array(c.headDim);
        weights.forEach((wt, j) => head(v[j], g).forEach((val, i) => (out[i] += (wt / total) * val)));
        if (term) term(layer, h, head(q[t], h)).forEach((val, i) => (out[i] += val));
        attnOut.set(out, h * c.headDim);
      }
      const projected = matVec(get(`${p}.self_attn.o_proj.weight`), attnOut);
      return row.map((val, i) => val + projected[i]);
    });
    x = x.map((row) => {
      const h = rmsNorm(row, get(`${p}.post_attention_layernorm.weight`).data, c.eps);
      const gate = matVec(get(`${p}.mlp.gate_proj.weight`), h);
      const up = matVec(get(`${p}.mlp.up_proj.weight`), h);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]); // SiLU(gate) · up
      const down = matVec(get(`${p}.mlp.down_proj.weight`), act);
      return row.map((val, i) => val + down[i]);
    });
  }
  const logits = x.map((row) => matVec(embed, rmsNorm(row, get('model.norm.weight').data, c.eps)));
  return { logits, queries };
}

// ---- the test ----

const isAvailable = hasStoriesHf();

describe.skipIf(!isAvailable)('PT+ data-mean centring vs an independent float64 reference (stories260K)', () => {
  let loaded: LoadedModel;
  let weights: Weights;
  let config: RefConfig;

  beforeAll(async () => {
    await initBackend('cpu');
    loaded = await loadModel(storiesHf);
    const raw = JSON.parse(readFileSync(join(storiesHf, 'config.json'), 'utf8')) as Record<string, number>;
    config = {
      hidden: raw.hidden_size,
      layers: raw.num_hidden_layers,
      heads: raw.num_attention_heads,
      kvHeads: raw.num_key_value_heads,
      headDim: raw.head_dim,
      vocab: raw.vocab_size,
      eps: raw.rms_norm_eps,
      theta: raw.rope_theta,
    };
    const reader = SafetensorsReader.open(join(storiesHf, 'model.safetensors'));
    try {
      weights = new Map(
        [...reader.tensors.keys()].map((name) => {
          const t = reader.read(name);
          return [name, { shape: t.shape, data: Float64Array.from(t.data as ArrayLike<number>) }];
        }),
      );
    } finally {
      reader.close();
    }
  });
  afterAll(() => loaded?.dispose());

  it('μ of the job equals the mean of elu(pre-RoPE q) over the prompt tokens; the centred forward matches; M = 0 is the identity', async () => {
    const tokenizer = loaded.tokenizer!;
    const texts = [
      ['Lily saw a big dog in the park.\nLabel:', ' happy'],
      ['Tom was sad.\nLabel:', ' sad'],
      ['Once upon a time, there was a little cat named Tim who loved to play.\nLabel:', ' happy'],
    ];
    const encoded: EncodedExample[] = texts.map(([prompt, target], i) => encodeExample(tokenizer, { prompt, target }, i, { maxLength: 64, addEos: false }));
    const adapter = ptplusMethod.attach(loaded.model, ptplusOptions.parse({ phiCenter: 'data-mean' }), { seed: 1 }) as PtPlusAdapter;
    const baseline = tf.memory().numTensors;
    try {
      const padId = loaded.model.config.padTokenId ?? tokenizer.eosTokenId ?? 0;
      const tokens = await centrePtPlus(loaded, adapter, encoded, padId);
      expect(tokens).toBe(encoded.reduce((s, e) => s + e.targetStart, 0));
      expect(tf.memory().numTensors).toBe(baseline);

      // Reference μ [layer][H·d]: elu of the pre-RoPE queries at every prompt position, averaged.
      const { heads, headDim, layers } = config;
      const sums = Array.from({ length: layers }, () => new Float64Array(heads * headDim));
      for (const e of encoded) {
        const { queries } = referenceForward(weights, config, e.ids);
        for (let layer = 0; layer < layers; layer++) {
          for (let t = 0; t < e.targetStart; t++) queries[layer][t].forEach((q, i) => (sums[layer][i] += elu(q)));
        }
      }
      const referenceMu = sums.map((s) => s.map((v) => v / tokens));
      const state = adapter.stateDict();
      let worstMu = 0;
      for (let layer = 0; layer < layers; layer++) {
        const mu = state[`base_model.model.model.layers.${layer}.self_attn.ptplus_phi_mean`];
        expect(mu.shape).toEqual([heads, headDim]);
        mu.data.forEach((v, i) => (worstMu = Math.max(worstMu, Math.abs(v - referenceMu[layer][i]))));
      }
      expect(worstMu).toBeLessThan(1e-5);
      expect(Math.max(...referenceMu.flatMap((m) => Array.from(m, Math.abs)))).toBeGreaterThan(1e-2); // μ is not trivially 0

      const ids = encoded[2].ids;
      const input = tf.tensor2d([ids], [1, ids.length], 'int32');
      try {
        // M = 0: the centred adapter leaves the model unchanged.
        const base = tf.tidy(() => loaded.model.forward(input).dataSync());
        const adaptedAtInit = tf.tidy(() => loaded.model.forward(input, { hooks: adapter.hooks }).dataSync());
        expect(Math.max(...adaptedAtInit.map((v, i) => Math.abs(v - base[i])))).toBeLessThanOrEqual(1e-6);
        const reference0 = referenceForward(weights, config, ids).logits.flatMap((row) => Array.from(row));
        expect(Math.max(...reference0.map((v, i) => Math.abs(v - base[i])))).toBeLessThan(1e-4);

        // A random memory M [H, d, d] per layer: logits vs the reference with (elu(q) − μ) M added per head.
        let seed = 11;
        const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.6;
        const memories: Float64Array[] = [];
        const withMemory = { ...state };
        for (let layer = 0; layer < layers; layer++) {
          const name = `base_model.model.model.layers.${layer}.self_attn.ptplus_memory`;
          const m = Float64Array.from({ length: heads * headDim * headDim }, random);
          memories.push(m);
          withMemory[name] = { shape: [heads, headDim, headDim], data: Float32Array.from(m) };
        }
        adapter.loadStateDict(withMemory);
        const adapted = tf.tidy(() => loaded.model.forward(input, { hooks: adapter.hooks }).dataSync());
        const mu32 = (layer: number) => state[`base_model.model.model.layers.${layer}.self_attn.ptplus_phi_mean`].data;
        const reference = referenceForward(weights, config, ids, (layer, h, qPre) => {
          const out = new Float64Array(headDim);
          for (let a = 0; a < headDim; a++) {
            const phi = elu(qPre[a]) - mu32(layer)[h * headDim + a];
            for (let e = 0; e < headDim; e++) out[e] += phi * memories[layer][(h * headDim + a) * headDim + e];
          }
          return out;
        }).logits.flatMap((row) => Array.from(row));
        expect(Math.max(...adapted.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(1e-2); // M matters
        expect(Math.max(...reference.map((v, i) => Math.abs(v - adapted[i])))).toBeLessThan(1e-4);
      } finally {
        input.dispose();
      }
    } finally {
      adapter.dispose();
    }
  });
});
