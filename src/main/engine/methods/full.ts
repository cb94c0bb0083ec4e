// Full fine-tuning: the model's own weights (all, or those selected) become trainable variables. Norm weights
// and biases (every 1-D weight in our families) get no weight decay. For small models only: training holds
// weights + gradients + two Adam moments, 16 bytes per trained float32 parameter.
import { freemem } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { fullOptions, type FullOptions } from '@shared/methods/full-options';
import type { F32Source } from '../io/safetensors';
import type { CausalLM, ModelConfig } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import { architectureFor } from '../models/architectures';
import { EMBEDDING_WEIGHTS, assignStateDict, countVariables, numel, toStateDict, toStateSources } from './common';
import type { AttachContext, MethodDefinition, PeftAdapter, StateDict } from './method';

export { fullOptions, type FullOptions };

/** Names of the weights these options train, given every weight name of the model (in its order). */
export function selectFullWeights(names: Iterable<string>, options: FullOptions): string[] {
  const chosen = [...names].filter(
    (name) => (options.include.length === 0 || options.include.some((part) => name.includes(part))) && !(options.freezeEmbeddings && EMBEDDING_WEIGHTS.has(name)),
  );
  if (chosen.length === 0) throw new ApiError('invalid_argument', `no weight matches include [${options.include.join(', ')}]`, { field: 'include' });
  return chosen;
}

/** Weight shapes of a loaded model, or the ones its family would load for a config. */
function weightShapesOf(source: ModelConfig | CausalLM): Map<string, number[]> {
  if ('weights' in source) return new Map([...source.weights].map(([name, weight]) => [name, weight.shape]));
  const config = source;
  const spec = architectureFor(config.architecture);
  if (!spec) throw new ApiError('unsupported', `no architecture ${config.architecture}`);
  return spec.weightShapes(config as never);
}

// ---- memory ----

export interface FullMemoryEstimate {
  /** Trained parameters. */
  trainedParameters: number;
  /** All model weights, float32. */
  weightsBytes: number;
  /** One gradient per trained parameter. */
  gradientBytes: number;
  /** Adam's first and second moments. */
  optimizerBytes: number;
  /** weights + gradients + moments (activations not included). */
  totalBytes: number;
}

/**
 * Bytes full fine-tuning needs on a loaded model (or a model of this config): weights + grads + 2 Adam
 * moments, 4 bytes each.
 */
export function estimateFullMemory(source: ModelConfig | CausalLM, options: FullOptions): FullMemoryEstimate {
  const shapes = weightShapesOf(source);
  const trainedParameters = selectFullWeights(shapes.keys(), options).reduce((sum, name) => sum + numel(shapes.get(name)!), 0);
  const weightsBytes = 4 * [...shapes.values()].reduce((sum, shape) => sum + numel(shape), 0);
  const gradientBytes = 4 * trainedParameters;
  const optimizerBytes = 8 * trainedParameters;
  return { trainedParameters, weightsBytes, gradientBytes, optimizerBytes, totalBytes: weightsBytes + gradientBytes + optimizerBytes };
}

/**
 * A warning when training would not fit: the gradients and moments still to be allocated (the weights are
 * already loaded) exceed `freeBytes`. null when it fits.
 */
export function fullMemoryWarning(estimate: FullMemoryEstimate, freeBytes: number): string | null {
  const needed = estimate.gradientBytes + estimate.optimizerBytes;
  if (needed <= freeBytes) return null;
  const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  return (
    `full fine-tuning needs about ${gib(needed)} more for gradients and Adam moments (${gib(estimate.totalBytes)} in all with the weights, ` +
    `activations extra) but only ${gib(freeBytes)} is free; train fewer weights or use a PEFT method`
  );
}

// ---- adapter ----

export interface FullAdapter extends PeftAdapter {
  readonly method: 'full';
  readonly options: FullOptions;
  /** Hugging Face names of the trained weights. */
  readonly weightNames: readonly string[];
  readonly warnings: readonly string[];
}

class FullAdapterImpl implements FullAdapter {
  readonly method = 'full' as const;
  readonly hooks: ModelHooks = {};
  readonly weightNames: string[];
  readonly warnings: string[] = [];
  private readonly named = new Map<string, tf.Variable>();
  /** Weights this adapter turned into variables (and turns back on dispose). */
  private readonly converted = new Set<string>();

  constructor(
    private readonly model: CausalLM,
    readonly options: FullOptions,
    ctx: AttachContext,
  ) {
    this.weightNames = selectFullWeights(model.weights.keys(), options);
    const estimate = estimateFullMemory(model, options);
    const warning = fullMemoryWarning(estimate, freemem());
    if (warning) {
      this.warnings.push(warning);
      ctx.warn?.(warning);
    }
    for (const name of this.weightNames) if (!(model.weights.get(name) instanceof tf.Variable)) this.converted.add(name);
    const variables = model.makeTrainable(this.weightNames);
    this.weightNames.forEach((name, i) => this.named.set(name, variables[i]));
  }

  trainableVariables(): tf.Variable[] {
    return [...this.named.values()];
  }

  trainableParamCount(): number {
    return countVariables(this.trainableVariables());
  }

  /** Every 1-D weight: RMSNorm/LayerNorm scales and biases in all our families. */
  noDecayVariableNames(): Set<string> {
    return new Set([...this.named.values()].filter((v) => v.rank === 1).map((v) => v.name));
  }

  /** Under the Hugging Face weight names. */
  stateDict(): StateDict {
    return toStateDict(this.named);
  }

  stateSources(): Record<string, F32Source> {
    return toStateSources(this.named);
  }

  loadStateDict(state: StateDict): void {
    assignStateDict(state, this.named, 'full');
  }

  setTraining(): void {
    // No train-only behaviour.
  }

  /**
   * Turns the weights this adapter made trainable back into plain tensors holding their current (trained)
   * values, so the model stays usable and no variable is left registered.
   */
  dispose(): void {
    for (const name of this.converted) {
      const variable = this.named.get(name);
      if (!variable || variable.isDisposed || this.model.weights.get(name) !== variable) continue;
      const frozen = tf.clone(variable); // shares the variable's data, no copy
      variable.dispose();
      this.model.weights.set(name, frozen);
    }
    this.converted.clear();
    this.named.clear();
  }
}

export const fullMethod = {
  name: 'full',
  label: 'Full fine-tuning',
  summary: 'Trains all (or the selected) weights of the model itself; for small models.',
  options: fullOptions,
  defaultLearningRate: 1e-4,
  learningRateGrid: [3e-5, 1e-4, 3e-4],
  trainsBaseWeights: true,
  countParameters(config: ModelConfig, options: FullOptions): number {
    return estimateFullMemory(config, options).trainedParameters;
  },
  attach(model: CausalLM, options: FullOptions, ctx: AttachContext): FullAdapter {
    return new FullAdapterImpl(model, fullOptions.parse(options), ctx);
  },
  exports: {
    // The model's own weights already hold the trained values: nothing to fold in.
    merged: { mergedWeights: () => new Map() },
    gguf: { mergedWeights: () => new Map() },
  },
} satisfies MethodDefinition<typeof fullOptions, FullAdapter>;
