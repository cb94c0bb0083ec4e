// Prefix-Tuning+ (arXiv 2506.13674, "PrefixMemory-Tuning"): per layer ℓ and query head h, a trainable memory
// M adds φ(q_i)ᵀM^(ℓ,h) to the head's attention output before W_O. M = 0 at init, so the base model is unchanged.
// Touches hooks.attentionOutputTerm (and, for the "normalised" ablation only, hooks.wrapLinear on W_O).
//
// Shapes: memory [H, d_φ, d] per layer (per-head, default) or [H·d_φ, H·d] (cross-head); mlp kernel
// φ_W(q) = ReLU(W q + b) with W [d_φ, d], b [d_φ] per layer, shared by that layer's heads [choice: a feature
// map shared across heads, like the elementwise ones; H× fewer kernel parameters than one W per head].
//
// Export layout (stateDict keys, also adapter_model.safetensors), with <attn> the family's attention module
// path — model.layers.{i}.self_attn (llama/mistral/qwen2), transformer.h.{i}.attn (gpt2),
// gpt_neox.layers.{i}.attention (gpt_neox):
//   base_model.model.<attn>.ptplus_memory          [H, d_φ, d] (cross-head: [H·d_φ, H·d])
//   base_model.model.<attn>.ptplus_phi.weight      [d_φ, d]  (mlp kernel; torch Linear layout [out, in])
//   base_model.model.<attn>.ptplus_phi.bias        [d_φ]     (mlp kernel)
//   base_model.model.<attn>.ptplus_log_normaliser  [H, d_φ]  (normalised variant; N = exp(·) > 0)
//   base_model.model.<attn>.ptplus_phi_mean        [H, d_φ]  (phiCenter 'data-mean'; not trainable)
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { ptplusOptions, type PtPlusOptions } from '@shared/methods/ptplus-options';
import { ptplusMemoryRatio } from '../eval/attention-mass';
import type { EncodedExample } from '../train/encode';
import type { CausalLM, ModelConfig } from '../models/causal-lm';
import type { ModelHooks, QueryViews } from '../models/hooks';
import { batchMatMul, matMul2d } from '../models/ops';
import { initSeed } from '../../platform/derive-seed';
import { assignStateDict, attentionModulePath, attentionOutputProjection, countVariables, kaimingUniform, linearBias, selectLayers, toStateDict, variableScope } from './common';
import type { AttachContext, MethodDefinition, PeftAdapter, StateDict } from './method';

export { ptplusOptions, type PtPlusOptions };

/** d_φ for these options on a model with head dim `headDim`. */
export function phiDimOf(options: PtPlusOptions, headDim: number): number {
  return options.featureMap === 'mlp' ? (options.phiDim ?? headDim) : headDim;
}

interface LayerParams {
  /** [H, d_φ, d] or [H·d_φ, H·d] */
  memory: tf.Variable;
  /** [d_φ, d] */
  phiWeight?: tf.Variable;
  /** [d_φ] */
  phiBias?: tf.Variable;
  /** [H, d_φ]; N = exp(logNormaliser) */
  logNormaliser?: tf.Variable;
  /** [H, d_φ], not trainable */
  phiMean?: tf.Variable;
}

export interface PtPlusAdapter extends PeftAdapter {
  readonly method: 'ptplus';
  readonly options: PtPlusOptions;
  readonly adaptedLayers: readonly number[];
  /** d_φ */
  readonly phiDim: number;
  /**
   * φ(q) of one adapted layer before centring, from the query views the attention hook receives.
   * [B, H, T, d] → [B, H, T, d_φ]
   */
  features(layer: number, query: QueryViews): tf.Tensor4D;
  /** Sets μ per adapted layer (each [H·d_φ], row-major [H, d_φ]); only with phiCenter 'data-mean'. */
  setPhiMean(means: ReadonlyMap<number, Float32Array>): void;
  /** Fields of adapter_config.json for the documented PREFIX_TUNING_PLUS export (base model path excluded). */
  exportConfig(): Record<string, unknown>;
}

class PtPlusAdapterImpl implements PtPlusAdapter {
  readonly method = 'ptplus' as const;
  readonly hooks: ModelHooks;
  readonly adaptedLayers: number[];
  readonly phiDim: number;
  private readonly params = new Map<number, LayerParams>();
  /** Every variable (trainable or not) under its stateDict name. */
  private readonly named = new Map<string, tf.Variable>();
  private readonly outProjections = new Set<string>();

  constructor(
    private readonly config: ModelConfig,
    readonly options: PtPlusOptions,
    seed: number,
  ) {
    const { heads, headDim } = config;
    this.adaptedLayers = selectLayers(options.layers, config.layers);
    this.phiDim = phiDimOf(options, headDim);
    const phiDim = this.phiDim;
    const scope = variableScope('ptplus');
    const make = (name: string, initial: tf.Tensor, trainable = true): tf.Variable => {
      const variable = tf.variable(initial, trainable, `${scope}${name}`);
      initial.dispose();
      this.named.set(name, variable);
      return variable;
    };
    for (const layer of this.adaptedLayers) {
      const root = `base_model.model.${attentionModulePath(config.architecture, layer)}`;
      const memoryShape = options.memory === 'per-head' ? [heads, phiDim, headDim] : [heads * phiDim, heads * headDim];
      const memoryInit =
        options.memoryInitStd > 0 ? tf.randomNormal(memoryShape, 0, options.memoryInitStd, 'float32', initSeed(seed, 'ptplus', `${root}.ptplus_memory`)) : tf.zeros(memoryShape);
      const p: LayerParams = { memory: make(`${root}.ptplus_memory`, memoryInit) };
      if (options.featureMap === 'mlp') {
        p.phiWeight = make(`${root}.ptplus_phi.weight`, kaimingUniform([phiDim, headDim], initSeed(seed, 'ptplus', `${root}.ptplus_phi.weight`))); // [d_φ, d]
        p.phiBias = make(`${root}.ptplus_phi.bias`, linearBias(phiDim, headDim, initSeed(seed, 'ptplus', `${root}.ptplus_phi.bias`))); // [d_φ]
      }
      if (options.variant === 'normalised') p.logNormaliser = make(`${root}.ptplus_log_normaliser`, tf.zeros([heads, phiDim])); // N = 1
      if (options.phiCenter === 'data-mean') p.phiMean = make(`${root}.ptplus_phi_mean`, tf.zeros([heads, phiDim]), false);
      this.params.set(layer, p);
      if (options.variant === 'normalised') this.outProjections.add(attentionOutputProjection(config.architecture, layer));
    }

    this.hooks = { attentionOutputTerm: (layer, query) => this.outputTerm(layer, query) };
    if (options.variant === 'normalised') {
      // The attention hook cannot scale attn itself, so W_O receives attn + ((1−λ)/λ)·X and its input is
      // scaled by λ: W_O(λ·attn + (1−λ)·X) + b, exactly the normalised output (bias added once).
      const lambda = options.lambda;
      this.hooks.wrapLinear = (name, x, base) => (this.outProjections.has(name) ? base(x.mul(lambda)) : base(x));
      this.hooks.wrapsLinear = (name) => this.outProjections.has(name);
    }
  }

  features(layer: number, query: QueryViews): tf.Tensor4D {
    const p = this.params.get(layer);
    if (!p) throw new ApiError('invalid_argument', `layer ${layer} is not adapted by this PT+ adapter`);
    const q = this.options.queryRope === 'pre' ? query.queryPreRope : query.queryPostRope; // [B, H, T, d]
    switch (this.options.featureMap) {
      case 'elu':
        return tf.elu(q);
      case 'elu+1':
        return tf.elu(q).add(1) as tf.Tensor4D;
      case 'gelu':
        // Exact GELU (erf), as torch.nn.functional.gelu.
        return q.mul(tf.erf(q.mul(Math.SQRT1_2)).add(1)).mul(0.5) as tf.Tensor4D; // [B, H, T, d]
      case 'mlp': {
        const [batchSize, numHeads, seqLen, headDim] = q.shape;
        const flat = q.reshape([batchSize * numHeads * seqLen, headDim]) as tf.Tensor2D; // [N, d]
        const hidden = matMul2d(flat, p.phiWeight as tf.Tensor2D, false, true).add(p.phiBias as tf.Tensor1D); // [N, d_φ]
        return tf.relu(hidden).reshape([batchSize, numHeads, seqLen, this.phiDim]) as tf.Tensor4D; // [B, H, T, d_φ]
      }
    }
  }

  /** φ(q)ᵀM (or its normalised form) for one layer: [B, H, T, d]. */
  private outputTerm(layer: number, query: QueryViews): tf.Tensor4D | null {
    const p = this.params.get(layer);
    if (!p) return null;
    const { heads, headDim } = this.config;
    let phi = this.features(layer, query); // [B, H, T, d_φ]
    if (p.phiMean) phi = phi.sub(p.phiMean.expandDims(1)) as tf.Tensor4D; // [B, H, T, d_φ] − [H, 1, d_φ]
    const [batchSize, , seqLen] = phi.shape;
    let term: tf.Tensor4D;
    if (this.options.memory === 'per-head') {
      const perHead = phi.transpose([1, 0, 2, 3]).reshape([heads, batchSize * seqLen, this.phiDim]) as tf.Tensor3D; // [H, B·T, d_φ]
      // batchMatMul/matMul2d: tf.matMul's products, in forms wasm runs fast (forward and gradients).
      term = batchMatMul(perHead, p.memory as tf.Tensor3D) // [H, B·T, d]
        .reshape([heads, batchSize, seqLen, headDim])
        .transpose([1, 0, 2, 3]) as tf.Tensor4D; // [B, H, T, d]
    } else {
      const allHeads = phi.transpose([0, 2, 1, 3]).reshape([batchSize * seqLen, heads * this.phiDim]) as tf.Tensor2D; // [B·T, H·d_φ]
      term = matMul2d(allHeads, p.memory as tf.Tensor2D) // [B·T, H·d]
        .reshape([batchSize, seqLen, heads, headDim])
        .transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, d]
    }
    if (p.logNormaliser) {
      const normaliser = p.logNormaliser.exp().expandDims(1); // [H, 1, d_φ]
      const denominator = phi.mul(normaliser).sum(-1, true); // [B, H, T, 1], > 0
      const lambda = this.options.lambda;
      term = term.div(denominator).mul((1 - lambda) / lambda) as tf.Tensor4D; // [B, H, T, d]; W_O input is scaled by λ
    }
    return term;
  }

  setPhiMean(means: ReadonlyMap<number, Float32Array>): void {
    if (this.options.phiCenter !== 'data-mean') {
      throw new ApiError('invalid_argument', "setPhiMean needs phiCenter 'data-mean'", { field: 'phiCenter' });
    }
    const expected = this.config.heads * this.phiDim;
    for (const [layer, mean] of means) {
      const p = this.params.get(layer);
      if (!p?.phiMean) throw new ApiError('invalid_argument', `layer ${layer} is not adapted by this PT+ adapter`);
      if (mean.length !== expected) {
        throw new ApiError('invalid_argument', `φ mean of layer ${layer} has ${mean.length} values, expected H·d_φ = ${expected}`);
      }
    }
    for (const [layer, mean] of means) {
      const target = this.params.get(layer)!.phiMean!;
      tf.tidy(() => target.assign(tf.tensor2d(mean, [this.config.heads, this.phiDim])));
    }
  }

  trainableVariables(): tf.Variable[] {
    return [...this.named.values()].filter((v) => v.trainable);
  }

  trainableParamCount(): number {
    return countVariables(this.trainableVariables());
  }

  stateDict(): StateDict {
    return toStateDict(this.named);
  }

  loadStateDict(state: StateDict): void {
    assignStateDict(state, this.named, 'ptplus');
  }

  setTraining(): void {
    // No train-only behaviour.
  }

  exportConfig(): Record<string, unknown> {
    const c = this.config;
    const o = this.options;
    return {
      peft_type: 'PREFIX_TUNING_PLUS',
      task_type: 'CAUSAL_LM',
      feature_map: o.featureMap,
      phi_dim: this.phiDim,
      query_rope: o.queryRope,
      per_head: o.memory === 'per-head',
      variant: o.variant,
      lambda: o.variant === 'normalised' ? o.lambda : null,
      phi_center: o.phiCenter,
      layers: this.adaptedLayers,
      num_layers: c.layers,
      num_attention_heads: c.heads,
      head_dim: c.headDim,
      model_type: c.architecture,
      inference_mode: true,
    };
  }

  dispose(): void {
    for (const variable of this.named.values()) variable.dispose();
    this.named.clear();
    this.params.clear();
  }
}

// ---- data-mean centring ----

export interface PhiMeanBatch {
  /** [B, T] */
  inputIds: tf.Tensor2D;
  /** [B, T]: passed to the forward (padding). */
  attentionMask?: tf.Tensor2D;
  /** [B, T]: 1 for the tokens to average over (default: attentionMask, else all). */
  tokenMask?: tf.Tensor2D;
}

/**
 * Mean of φ(q) per adapted layer and head [H, d_φ] over the masked tokens of `batches`, with queries from the
 * frozen base (the adapter's terms are not applied). Applies it with setPhiMean when the adapter centres
 * (phiCenter 'data-mean') and returns it either way. Never disposes the batches' tensors.
 */
export async function computePhiMean(model: CausalLM, adapter: PtPlusAdapter, batches: Iterable<PhiMeanBatch> | AsyncIterable<PhiMeanBatch>): Promise<Map<number, Float32Array>> {
  const size = model.config.heads * adapter.phiDim;
  const sums = new Map<number, Float64Array>(adapter.adaptedLayers.map((layer) => [layer, new Float64Array(size)]));
  let tokenCount = 0;
  for await (const batch of batches) {
    const kept: { layer: number; sum: tf.Tensor }[] = [];
    const count: { tokens: tf.Tensor | null } = { tokens: null };
    try {
      const hooks: ModelHooks = {
        attentionOutputTerm: (layer, query) => {
          if (!sums.has(layer)) return null;
          const phi = adapter.features(layer, query); // [B, H, T, d_φ]
          const [batchSize, , seqLen] = phi.shape;
          const mask = batch.tokenMask ?? batch.attentionMask;
          const weights = mask ? mask.toFloat().reshape([batchSize, 1, seqLen, 1]) : tf.ones([batchSize, 1, seqLen, 1]); // [B, 1, T, 1]
          kept.push({ layer, sum: tf.keep(phi.mul(weights).sum([0, 2])) }); // [H, d_φ]
          count.tokens ??= tf.keep(weights.sum());
          return null;
        },
      };
      const logits = model.forward(batch.inputIds, { attentionMask: batch.attentionMask, hooks, logits: 'last' });
      logits.dispose();
      for (const { layer, sum } of kept) {
        const values = await sum.data();
        const total = sums.get(layer)!;
        for (let i = 0; i < size; i++) total[i] += values[i];
      }
      if (count.tokens) tokenCount += (await count.tokens.data())[0];
    } finally {
      for (const { sum } of kept) sum.dispose();
      count.tokens?.dispose();
    }
  }
  if (tokenCount <= 0) throw new ApiError('invalid_argument', 'computePhiMean saw no tokens to average over');
  const means = new Map<number, Float32Array>();
  for (const [layer, total] of sums)
    means.set(
      layer,
      Float32Array.from(total, (v) => v / tokenCount),
    );
  if (adapter.options.phiCenter === 'data-mean') adapter.setPhiMean(means);
  return means;
}

/**
 * PT+ with phiCenter 'data-mean', before step 0: sets μ, the mean of φ(q) per adapted layer and head over every
 * prompt token (positions before targetStart, BOS included) of the encoded training examples, with the frozen
 * base (M is not applied). Returns the number of tokens averaged over.
 */
export async function centrePtPlus(
  loaded: { model: CausalLM },
  adapter: PtPlusAdapter,
  encoded: readonly EncodedExample[],
  padId: number,
  log?: (message: string) => void,
): Promise<number> {
  const promptTokens = encoded.reduce((sum, e) => sum + e.targetStart, 0);
  log?.(`computing φ mean over ${promptTokens} prompt tokens of ${encoded.length} training examples`);
  const batches = [];
  for (let i = 0; i < encoded.length; i += 16) {
    const group = encoded.slice(i, i + 16);
    const seqLen = Math.max(...group.map((e) => e.ids.length));
    const ids = group.map((e) => [...e.ids, ...new Array(seqLen - e.ids.length).fill(padId)]);
    const mask = group.map((e) => e.ids.map(() => 1).concat(new Array(seqLen - e.ids.length).fill(0)));
    const promptMask = group.map((e) => e.ids.map((_, t) => (t < e.targetStart ? 1 : 0)).concat(new Array(seqLen - e.ids.length).fill(0)));
    batches.push({ inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32'), tokenMask: tf.tensor2d(promptMask, undefined, 'int32') });
  }
  try {
    await computePhiMean(loaded.model, adapter, batches);
  } finally {
    for (const b of batches) tf.dispose([b.inputIds, b.attentionMask, b.tokenMask]);
  }
  return promptTokens;
}

// ---- definition ----

export const ptplusMethod = {
  name: 'ptplus',
  label: 'Prefix-Tuning+',
  summary: "Trains a memory per layer and head whose read-out φ(q)ᵀM is added to each head's attention output; the base stays frozen.",
  options: ptplusOptions,
  defaultLearningRate: 1e-2,
  learningRateGrid: [3e-3, 1e-2, 3e-2],
  countParameters(config: ModelConfig, options: PtPlusOptions): number {
    const layers = selectLayers(options.layers, config.layers).length;
    const phiDim = phiDimOf(options, config.headDim);
    const { heads, headDim } = config;
    const memory = options.memory === 'per-head' ? heads * phiDim * headDim : heads * phiDim * heads * headDim;
    const kernel = options.featureMap === 'mlp' ? phiDim * headDim + phiDim : 0;
    const normaliser = options.variant === 'normalised' ? heads * phiDim : 0;
    return layers * (memory + kernel + normaliser);
  },
  attach(model: CausalLM, options: PtPlusOptions, ctx: AttachContext): PtPlusAdapter {
    return new PtPlusAdapterImpl(model.config, ptplusOptions.parse(options), ctx.seed);
  },
  // μ once, from the frozen base, before step 0; it is saved with every checkpoint (a resumed run restores it
  // from there and never measures it again) and exported with the adapter.
  async prepare(adapter: PtPlusAdapter, ctx) {
    if (adapter.options.phiCenter === 'data-mean') await centrePtPlus(ctx, adapter, ctx.examples, ctx.padId, ctx.log);
  },
  diagnostics: { kind: 'ptplus-memory-ratio', measure: (model, adapter, tokenizer, texts) => ptplusMemoryRatio(model, adapter, tokenizer, texts) },
  exports: {
    ptplus: {
      peftType: 'PREFIX_TUNING_PLUS',
      write: (adapter: PtPlusAdapter) => ({ config: adapter.exportConfig(), tensors: adapter.stateDict() }),
      readOptions: (c: Record<string, unknown>) => ({
        featureMap: c.feature_map,
        phiDim: c.feature_map === 'mlp' ? c.phi_dim : null,
        queryRope: c.query_rope,
        memory: c.per_head === false ? 'cross-head' : 'per-head',
        variant: c.variant ?? 'plain',
        ...(typeof c.lambda === 'number' ? { lambda: c.lambda } : {}),
        layers: Array.isArray(c.layers) ? c.layers : null,
        phiCenter: c.phi_center ?? 'none',
      }),
    },
  },
} satisfies MethodDefinition<typeof ptplusOptions, PtPlusAdapter>;
