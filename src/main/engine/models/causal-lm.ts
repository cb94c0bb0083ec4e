// The contract every model family implements: a normalised config, a synchronous differentiable forward
// pass, the weights under their Hugging Face names, and conversion of chosen weights into trainable variables.
import * as tf from '@tensorflow/tfjs';
import type { ModelHooks } from './hooks';
import type { KVCache } from './kv-cache';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'gpt2' | 'gpt_neox';

export interface ModelConfig {
  /** The Hugging Face model_type this model was built from. */
  architecture: Architecture;
  vocabSize: number;
  /** Model width D. */
  hidden: number;
  layers: number;
  /** Query heads H. */
  heads: number;
  /** Key/value heads H_kv (H_kv < H means grouped-query attention). */
  kvHeads: number;
  headDim: number;
  /** MLP inner width. */
  intermediate: number;
  /** Longest context the model was trained for. */
  maxPositions: number;
  tiedEmbeddings: boolean;
  /** Compute dtype: weights are always converted to float32. */
  dtype: 'float32';
  /** dtype of the weights on disk. */
  sourceDtype: 'F32' | 'F16' | 'BF16';
  /** Number of parameters (tied embeddings counted once). */
  parameters: number;
  bosTokenId: number | null;
  /** Ids that end generation by default (from config.json; generation_config.json may override). */
  eosTokenIds: number[];
  padTokenId: number | null;
}

export interface ForwardOptions {
  /**
   * 1 for real tokens, 0 for padding. Either [B, T] for the new tokens or [B, cached + T] in the Hugging
   * Face convention (then only the last T columns are read; earlier ones are already in the cache).
   * Positions are then counted per row over visible tokens (cumsum(mask) - 1), as transformers' generate does.
   */
  attentionMask?: tf.Tensor2D;
  /** Added to every position id (default 0). */
  positionOffset?: number;
  /** Keys/values of earlier calls; this call's keys/values are appended to it. Not for training. */
  cache?: KVCache;
  hooks?: ModelHooks;
  /** 'last' returns logits of the final position only, [B, 1, V] (what decoding needs). Default 'all'. */
  logits?: 'all' | 'last';
}

export interface CausalLM {
  readonly config: ModelConfig;
  /** Weights under their Hugging Face names (tied heads are not duplicated). Variables after makeTrainable. */
  readonly weights: Map<string, tf.Tensor | tf.Variable>;
  /**
   * inputIds [B, T] int32 → logits [B, T, V] (or [B, 1, V] with logits: 'last'). Synchronous, so it can run
   * inside tf.tidy and under a gradient tape; it never disposes its inputs.
   */
  forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /**
   * Turns the named weights (default: all) into trainable tf.Variables and returns them. Other weights stay
   * plain tensors, so no gradient is ever computed for them.
   */
  makeTrainable(names?: string[]): tf.Variable[];
  dispose(): void;
}

let nextModelId = 0;

/** Weight bookkeeping shared by every family; subclasses supply forward(). */
export abstract class BaseCausalLM<C extends ModelConfig> implements CausalLM {
  readonly weights: Map<string, tf.Tensor | tf.Variable>;
  /** Prefix keeping variable names unique when several models live in one process. */
  private readonly variablePrefix = `model${nextModelId++}`;
  private isDisposed = false;

  constructor(
    readonly config: C,
    weights: Map<string, tf.Tensor>,
  ) {
    this.weights = weights;
  }

  abstract forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;

  /** The weight called `name`; throws if absent (a loader bug, since loaders check every name). */
  protected w<T extends tf.Tensor = tf.Tensor>(name: string): T {
    const weight = this.weights.get(name);
    if (!weight) throw new Error(`model has no weight ${name}`);
    return weight as T;
  }

  /** The weight called `name` when the checkpoint has it (optional biases). */
  protected maybe<T extends tf.Tensor = tf.Tensor>(name: string): T | undefined {
    return this.weights.get(name) as T | undefined;
  }

  makeTrainable(names?: string[]): tf.Variable[] {
    const chosen = names ?? [...this.weights.keys()];
    const variables: tf.Variable[] = [];
    for (const name of chosen) {
      const weight = this.weights.get(name);
      if (!weight) throw new Error(`model has no weight ${name}`);
      if (weight instanceof tf.Variable) {
        variables.push(weight);
        continue;
      }
      const variable = tf.variable(weight, true, `${this.variablePrefix}/${name}`);
      weight.dispose();
      this.weights.set(name, variable);
      variables.push(variable);
    }
    return variables;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const weight of this.weights.values()) weight.dispose();
    this.weights.clear();
  }
}

/** Parameter count of a set of weight shapes. */
export function countParameters(shapes: Map<string, number[]>): number {
  let total = 0;
  for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}
