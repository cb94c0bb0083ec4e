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
import { z } from 'zod';
import { ApiError } from '@shared/errors';
import type { CausalLM, ModelConfig } from '../models/causal-lm';
import type { ModelHooks, QueryViews } from '../models/hooks';
import { batchMatMul, matMul2d } from '../models/ops';
import { initSeed } from '../derive-seed';
import {
  assignStateDict,
  attentionModulePath,
  attentionOutputProjection,
  countVariables,
  kaimingUniform,
  linearBias,
  selectLayers,
  toStateDict,
  variableScope,
} from './common';
import type { AttachContext, MethodDefinition, PeftAdapter, StateDict } from './method';

export const ptplusOptions = z
  .object({
    featureMap: z
      .enum(['elu', 'elu+1', 'gelu', 'mlp'])
      .default('elu')
      .describe("Kernel feature map φ on each head's query: elu (paper default), elu+1 (positive), gelu, or a trainable kernel ReLU(W q + b)"),
    phiDim: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .nullable()
      .default(null)
      .describe('Feature dimension d_φ of the mlp kernel (null: head_dim); elementwise maps always use head_dim'),
    queryRope: z.enum(['pre', 'post']).default('pre').describe('Feed φ the query before (pre, default) or after (post) rotary position embedding'),
    memory: z
      .enum(['per-head', 'cross-head'])
      .default('per-head')
      .describe('per-head: one [d_φ, d] memory per query head (block-diagonal); cross-head: one [H·d_φ, H·d] matrix per layer'),
    variant: z
      .enum(['plain', 'normalised'])
      .default('plain')
      .describe('plain: attn + φ(q)ᵀM; normalised (ablation): λ·attn + (1−λ)·φ(q)ᵀM / φ(q)ᵀN with φ = elu+1 and trainable N > 0'),
    lambda: z.number().gt(0).max(1).default(0.5).describe('Fixed mixing weight λ of the attention output in the normalised variant (0 < λ ≤ 1)'),
    layers: z.array(z.number().int().min(0)).nullable().default(null).describe('Layer indices to adapt (null: every layer)'),
    phiCenter: z
      .enum(['none', 'data-mean'])
      .default('none')
      .describe('data-mean: subtract the mean of φ(q) per layer and head, measured on training prompts with the frozen base (PrefixLab extension)'),
    memoryInitStd: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe('Std of the normal init of M; 0 (default) makes the adapted model equal the base at step 0'),
  })
  .superRefine((o, ctx) => {
    if (o.variant === 'normalised' && o.featureMap !== 'elu+1') {
      ctx.addIssue({ code: 'custom', path: ['featureMap'], message: "the normalised variant needs the positive feature map 'elu+1'" });
    }
    if (o.variant === 'normalised' && o.memory !== 'per-head') {
      ctx.addIssue({ code: 'custom', path: ['memory'], message: 'the normalised variant is defined per head' });
    }
    if (o.variant === 'normalised' && o.phiCenter !== 'none') {
      ctx.addIssue({ code: 'custom', path: ['phiCenter'], message: 'centring φ would break the positive normaliser φ(q)ᵀN' });
    }
    if (o.phiDim !== null && o.featureMap !== 'mlp') {
      ctx.addIssue({ code: 'custom', path: ['phiDim'], message: 'phiDim applies to the mlp kernel only' });
    }
  });

export type PtPlusOptions = z.output<typeof ptplusOptions>;

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
      const memoryInit = options.memoryInitStd > 0 ? tf.randomNormal(memoryShape, 0, options.memoryInitStd, 'float32', initSeed(seed, 'ptplus', `${root}.ptplus_memory`)) : tf.zeros(memoryShape);
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
export async function computePhiMean(
  model: CausalLM,
  adapter: PtPlusAdapter,
  batches: Iterable<PhiMeanBatch> | AsyncIterable<PhiMeanBatch>,
): Promise<Map<number, Float32Array>> {
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
  for (const [layer, total] of sums) means.set(layer, Float32Array.from(total, (v) => v / tokenCount));
  if (adapter.options.phiCenter === 'data-mean') adapter.setPhiMean(means);
  return means;
}

// ---- definition ----

export const ptplusMethod = {
  name: 'ptplus',
  label: 'Prefix-Tuning+',
  summary: "Trains a memory per layer and head whose read-out φ(q)ᵀM is added to each head's attention output; the base stays frozen.",
  options: ptplusOptions,
  defaultLearningRate: 1e-2,
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
} satisfies MethodDefinition<typeof ptplusOptions>;
