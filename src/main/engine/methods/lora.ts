// LoRA (Hu et al. 2021) with PEFT's semantics: for each targeted linear W (in → out), y = W x + s·B A x with
// A [r, in] (kaiming_uniform(a=√5)), B [out, r] = 0, s = α/r (rsLoRA: α/√r), dropout on the LoRA input while
// training. Goes through hooks.wrapLinear. stateDict keys are PEFT's:
// base_model.model.<module path>.lora_A.weight [r, in] and .lora_B.weight [out, r], whatever the orientation
// of the model's own weight (GPT-2 Conv1D stores W as [in, out]; mergedWeights() writes that layout back).
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { loraOptions, type LoraOptions } from '@shared/methods/lora-options';
import type { Architecture, CausalLM, ModelConfig } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import { dropoutKeepingMask, matMul2d, scaleBy } from '../models/ops';
import { residualAdd } from '../models/blocks';
import { architectureFor } from '../models/architectures';
import { dropoutSeed, initSeed } from '../../platform/derive-seed';
import { EMBEDDING_WEIGHTS, LM_HEAD_WEIGHTS, assignStateDict, configField, countVariables, isPositiveInt, kaimingUniform, toStateDict, variableScope } from './common';
import type { AttachContext, MethodDefinition, PeftAdapter, StateDict } from './method';

export { loraOptions, type LoraOptions };

/** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for our families. */
export const DEFAULT_LORA_TARGETS: Record<Architecture, string[]> = {
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
  gpt_neox: ['query_key_value'],
  gemma3_text: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  // Not in PEFT's mapping (it has no phi3 entry): the fused attention projection, as PEFT's defaults for the
  // other fused-qkv families (gpt2 c_attn, gpt_neox query_key_value, codegen qkv_proj).
  phi3: ['qkv_proj'],
};

export interface LinearModule {
  /** Hugging Face module path, as hooks.wrapLinear names it. */
  name: string;
  inDim: number;
  outDim: number;
  /** How the model stores the weight: 'out_in' (torch Linear) or 'in_out' (GPT-2 Conv1D). */
  layout: 'out_in' | 'in_out';
}

/** Every linear layer of a model of this config except the LM head, from the family's weight shapes. */
export function linearModules(config: ModelConfig): LinearModule[] {
  const spec = architectureFor(config.architecture);
  if (!spec) throw new ApiError('unsupported', `no architecture ${config.architecture}`);
  const layout = config.architecture === 'gpt2' ? 'in_out' : 'out_in';
  const modules: LinearModule[] = [];
  for (const [weightName, shape] of spec.weightShapes(config as never)) {
    if (shape.length !== 2 || !weightName.endsWith('.weight') || EMBEDDING_WEIGHTS.has(weightName) || LM_HEAD_WEIGHTS.has(weightName)) continue;
    const [inDim, outDim] = layout === 'out_in' ? [shape[1], shape[0]] : shape;
    modules.push({ name: weightName.slice(0, -'.weight'.length), inDim, outDim, layout });
  }
  return modules;
}

/** The linear layers `targets` selects; fails listing the available names when nothing matches. */
export function resolveTargets(config: ModelConfig, targets: LoraOptions['targets']): LinearModule[] {
  const modules = linearModules(config);
  if (targets === 'all-linear') return modules;
  const keys = targets === 'default' ? DEFAULT_LORA_TARGETS[config.architecture] : targets;
  const chosen = modules.filter((m) => keys.some((key) => m.name === key || m.name.endsWith(`.${key}`)));
  if (chosen.length === 0) {
    const leaves = [...new Set(modules.map((m) => m.name.split('.').pop()))].join(', ');
    throw new ApiError('invalid_argument', `LoRA targets [${keys.join(', ')}] match no linear layer (this model has: ${leaves})`, { field: 'targets' });
  }
  return chosen;
}

export function loraScale(options: LoraOptions): number {
  return options.rsLora ? options.alpha / Math.sqrt(options.rank) : options.alpha / options.rank;
}

export interface LoraAdapter extends PeftAdapter {
  readonly method: 'lora';
  readonly options: LoraOptions;
  readonly modules: readonly LinearModule[];
  /** s = α/r or α/√r */
  readonly scale: number;
  /**
   * W' = W + s·B·A for every targeted layer, under the model's weight names (`<module>.weight`) and in the
   * model's own layout ([out, in], or [in, out] for GPT-2 Conv1D). New tensors: the caller disposes them.
   */
  mergedWeights(): Map<string, tf.Tensor2D>;
  exportConfig(): Record<string, unknown>;
}

class LoraAdapterImpl implements LoraAdapter {
  readonly method = 'lora' as const;
  readonly hooks: ModelHooks;
  readonly modules: LinearModule[];
  readonly scale: number;
  private readonly a = new Map<string, tf.Variable>();
  private readonly b = new Map<string, tf.Variable>();
  private readonly named = new Map<string, tf.Variable>();
  private isTraining = false;
  /** Advances the dropout seed every call, so masks differ between steps but repeat across runs. */
  private dropoutCalls = 0;

  constructor(
    private readonly model: CausalLM,
    readonly options: LoraOptions,
    private readonly seed: number,
  ) {
    this.modules = resolveTargets(model.config, options.targets);
    this.scale = loraScale(options);
    const scope = variableScope('lora');
    this.modules.forEach((m) => {
      const key = `base_model.model.${m.name}`;
      const initA = kaimingUniform([options.rank, m.inDim], initSeed(seed, 'lora', `${key}.lora_A.weight`)); // [r, in]
      const initB = tf.zeros([m.outDim, options.rank]); // [out, r]
      const a = tf.variable(initA, true, `${scope}${key}.lora_A.weight`);
      const b = tf.variable(initB, true, `${scope}${key}.lora_B.weight`);
      tf.dispose([initA, initB]);
      this.a.set(m.name, a);
      this.b.set(m.name, b);
      this.named.set(`${key}.lora_A.weight`, a);
      this.named.set(`${key}.lora_B.weight`, b);
    });
    this.hooks = { wrapLinear: (name, x, base) => this.apply(name, x, base), wrapsLinear: (name) => this.a.has(name) };
  }

  /** x [N, in] → base(x) + s·(drop(x) Aᵀ) Bᵀ [N, out] */
  private apply(name: string, x: tf.Tensor2D, base: (x: tf.Tensor2D) => tf.Tensor2D): tf.Tensor2D {
    const y = base(x); // [N, out]
    const a = this.a.get(name);
    if (!a) return y;
    const b = this.b.get(name)!;
    const rate = this.options.dropout;
    // tf.dropout, tf.mul and tf.add's values, in ops whose tape keeps only what the gradient needs: the generic ops
    // keep x, the draw, the mask, y and the scaled product, each [N, in|out], until the backward pass ends.
    const input = this.isTraining && rate > 0 ? dropoutKeepingMask(x, rate, dropoutSeed(this.seed, ++this.dropoutCalls)) : x; // [N, in]
    // matMul2d: the same products, but in forms wasm runs fast (forward and gradients).
    const low = matMul2d(input, a as tf.Tensor2D, false, true); // [N, r]
    return residualAdd(y, scaleBy(matMul2d(low, b as tf.Tensor2D, false, true), this.scale)); // [N, out]
  }

  mergedWeights(): Map<string, tf.Tensor2D> {
    const merged = new Map<string, tf.Tensor2D>();
    for (const m of this.modules) {
      const weightName = `${m.name}.weight`;
      const weight = this.model.weights.get(weightName);
      if (!weight) throw new ApiError('internal', `model has no weight ${weightName}`);
      const updated = tf.tidy(() => {
        const delta = tf.matMul(this.b.get(m.name) as tf.Tensor2D, this.a.get(m.name) as tf.Tensor2D).mul(this.scale); // [out, in]
        return weight.add(m.layout === 'out_in' ? delta : delta.transpose()) as tf.Tensor2D; // model layout
      });
      merged.set(weightName, updated);
    }
    return merged;
  }

  exportConfig(): Record<string, unknown> {
    const o = this.options;
    const targetModules = Array.isArray(o.targets) ? o.targets : [...new Set(this.modules.map((m) => m.name.split('.').pop()!))].sort();
    return {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: o.rank,
      lora_alpha: o.alpha,
      lora_dropout: o.dropout,
      use_rslora: o.rsLora,
      target_modules: targetModules,
      fan_in_fan_out: this.model.config.architecture === 'gpt2',
      bias: 'none',
      init_lora_weights: true,
      modules_to_save: null,
      inference_mode: true,
    };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.named.values()];
  }

  trainableParamCount(): number {
    return countVariables(this.trainableVariables());
  }

  stateDict(): StateDict {
    return toStateDict(this.named);
  }

  loadStateDict(state: StateDict): void {
    assignStateDict(state, this.named, 'lora');
  }

  randomState(): number {
    return this.dropoutCalls;
  }

  setRandomState(state: number): void {
    this.dropoutCalls = state;
  }

  setTraining(isTraining: boolean): void {
    this.isTraining = isTraining;
  }

  dispose(): void {
    for (const variable of this.named.values()) variable.dispose();
    this.named.clear();
    this.a.clear();
    this.b.clear();
  }
}

export const loraMethod = {
  name: 'lora',
  label: 'LoRA',
  summary: 'Trains a low-rank update B·A beside chosen linear layers, as in PEFT.',
  options: loraOptions,
  defaultLearningRate: 3e-3,
  learningRateGrid: [1e-3, 3e-3, 1e-2],
  countParameters(config: ModelConfig, options: LoraOptions): number {
    return resolveTargets(config, options.targets).reduce((sum, m) => sum + options.rank * (m.inDim + m.outDim), 0);
  },
  attach(model: CausalLM, options: LoraOptions, ctx: AttachContext): LoraAdapter {
    return new LoraAdapterImpl(model, loraOptions.parse(options), ctx.seed);
  },
  exports: {
    // PEFT names the tensors as we do (base_model.model.<module>.lora_{A,B}.weight); GPT-2's Conv1D layers get
    // fan_in_fan_out true from exportConfig.
    peft: {
      peftType: 'LORA',
      write: (adapter: LoraAdapter) => ({ config: adapter.exportConfig(), tensors: adapter.stateDict() }),
      readOptions(config: Record<string, unknown>, file: string): Record<string, unknown> {
        const targets = config.target_modules;
        if (!(targets === 'all-linear' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')))) {
          throw new ApiError('bad_file', 'target_modules must be a list of module names', { file, field: 'target_modules' });
        }
        if (config.bias !== undefined && config.bias !== 'none') throw new ApiError('unsupported', `LoRA bias "${String(config.bias)}" is not supported`, { file, field: 'bias' });
        return {
          rank: configField<number>(config, 'r', isPositiveInt, file),
          alpha: configField<number>(config, 'lora_alpha', (v) => typeof v === 'number', file),
          dropout: typeof config.lora_dropout === 'number' ? config.lora_dropout : 0,
          rsLora: config.use_rslora === true,
          targets,
        };
      },
    },
    merged: { mergedWeights: (adapter: LoraAdapter) => adapter.mergedWeights() },
    gguf: { mergedWeights: (adapter: LoraAdapter) => adapter.mergedWeights() },
    'gguf-lora': {
      loraPairs(adapter: LoraAdapter) {
        const state = adapter.stateDict();
        const pairs = adapter.modules.map((m) => {
          const key = `base_model.model.${m.name}`;
          return { module: m.name, inDim: m.inDim, outDim: m.outDim, a: state[`${key}.lora_A.weight`].data, b: state[`${key}.lora_B.weight`].data };
        });
        return { rank: adapter.options.rank, scale: adapter.scale, pairs };
      },
      stateFromPairs(pairs: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>, adapter: LoraAdapter): StateDict {
        const state: StateDict = {};
        for (const m of adapter.modules) {
          const pair = pairs.get(m.name);
          if (!pair) throw new ApiError('bad_file', `the GGUF adapter has no LoRA pair for ${m.name}`, { field: m.name });
          const key = `base_model.model.${m.name}`;
          state[`${key}.lora_A.weight`] = { shape: [adapter.options.rank, m.inDim], data: pair.a };
          state[`${key}.lora_B.weight`] = { shape: [m.outDim, adapter.options.rank], data: pair.b };
        }
        return state;
      },
    },
  },
} satisfies MethodDefinition<typeof loraOptions, LoraAdapter>;
