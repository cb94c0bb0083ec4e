// The contract every model family implements: a normalised config, a synchronous differentiable forward
// pass, the weights under their Hugging Face names, and conversion of chosen weights into trainable variables.
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from './forward-context';
import type { ModelHooks } from './hooks';
import type { KVCache } from './kv-cache';
import type { RecomputeSession } from './block-recompute';
import { linear } from './blocks';
import { canFuseHead, fusedHeadNll, rowNll } from './head-loss';
import { embeddingLookup, isTrainable, keepsTransposedWeights, selectRows, shareWasmIdentity, type LinearWeights } from './ops';
import { quantizedRows, type QuantizedLinearWeights, type QuantizedMatrix } from './quantized-linear';

/** Input embedding tables of every family (token, and GPT-2's positions); a tied LM head reuses the first. */
export const EMBEDDING_WEIGHTS: ReadonlySet<string> = new Set(['model.embed_tokens.weight', 'transformer.wte.weight', 'transformer.wpe.weight', 'gpt_neox.embed_in.weight']);

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'gpt2' | 'gpt_neox' | 'gemma3_text' | 'qwen3' | 'phi3';

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
  /**
   * Only these positions' logits, as flat indices b·T + t over the real tokens: forward then returns
   * [1, N, V] in this order (training scores a fraction of the positions; the LM head runs on those only).
   */
  logitRows?: Int32Array;
  /**
   * With logitRows: each row's label (token id), and forward returns their negative log-likelihoods [1, N, 1]
   * instead of the logits. A frozen head without a hook computes them without materialising [N, V]
   * (head-loss.ts); other heads take the logits and the row loss.
   */
  targetLabels?: Int32Array;
  /**
   * Training only: each decoder block keeps just its input and runs again in the backward pass (activation
   * recomputation, see block-recompute.ts). The caller adds the session's variable gradients to the tape's.
   */
  recompute?: RecomputeSession;
}

export interface CausalLM {
  readonly config: ModelConfig;
  /** Weights under their Hugging Face names (tied heads are not duplicated). Variables after makeTrainable. */
  readonly weights: Map<string, tf.Tensor | tf.Variable>;
  /**
   * inputIds [B, T] int32 → logits [B, T, V] (or [B, 1, V] with logits: 'last', [1, N, V] with logitRows).
   * Synchronous, so it can run inside tf.tidy and under a gradient tape; it never disposes its inputs.
   */
  forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;
  /**
   * Turns the named weights (default: all) into trainable tf.Variables and returns them. Other weights stay
   * plain tensors, so no gradient is ever computed for them.
   */
  makeTrainable(names?: string[]): tf.Variable[];
  /** Rows of the embedding table `name` for ids [...] → [..., D] (a quantized table dequantizes just those). */
  embeddingRows(name: string, ids: tf.Tensor): tf.Tensor;
  dispose(): void;
}

let nextModelId = 0;

/** Weight bookkeeping shared by every family; subclasses supply forward(). */
export abstract class BaseCausalLM<C extends ModelConfig> implements CausalLM {
  readonly weights: Map<string, tf.Tensor | tf.Variable>;
  /** Prefix keeping variable names unique when several models live in one process. */
  private readonly variablePrefix = `model${nextModelId++}`;
  /**
   * Linear weights in their other layout, made once at load where the fast product needs it (wasm, native
   * TensorFlow), so neither the forward nor the backward product transposes (see ops.ts). Costs one more
   * copy of those weights; replaced when the weight is.
   */
  private readonly transposedWeights = new Map<string, { source: tf.Tensor; dataId: object; transposed: tf.Tensor2D }>();
  /** Frozen linear matrices kept compact (a quantized GGUF base), not in `weights`; see quantized-linear.ts. */
  private readonly quantizedWeights = new Map<string, QuantizedMatrix>();
  private isDisposed = false;

  constructor(
    readonly config: C,
    weights: Map<string, tf.Tensor>,
  ) {
    this.weights = weights;
    if (keepsTransposedWeights()) {
      for (const name of this.linearWeightNames()) this.keepTransposed(name);
    }
  }

  abstract forward(inputIds: tf.Tensor2D, opts?: ForwardOptions): tf.Tensor3D;

  /** Weights used as a linear layer's matrix (the LM head included), for the transposed copies. */
  protected abstract linearWeightNames(): string[];

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

  /**
   * Takes frozen matrices in a compact form (a quantized GGUF base): each linear matrix is dequantized inside
   * the products that use it, each embedding table row by row for its lookups (embeddingRows). Every name must
   * be a linear layer's matrix or an embedding table that `weights` does not hold.
   */
  keepQuantized(matrices: Map<string, QuantizedMatrix>): void {
    const linear = new Set(this.linearWeightNames());
    for (const [name, matrix] of matrices) {
      const isKnown = linear.has(name) || EMBEDDING_WEIGHTS.has(name);
      if (!isKnown || this.weights.has(name)) throw new Error(`weight ${name} cannot be kept quantized (not a linear layer's matrix or an embedding table, or already loaded)`);
      this.quantizedWeights.set(name, matrix);
    }
  }

  /** Names of the matrices kept quantized (keepQuantized), and the bytes they hold. */
  quantizedBase(): { names: string[]; bytes: number } {
    let bytes = 0;
    for (const m of this.quantizedWeights.values()) bytes += m.byteLength;
    return { names: [...this.quantizedWeights.keys()], bytes };
  }

  embeddingRows(name: string, ids: tf.Tensor): tf.Tensor {
    const quantized = this.quantizedWeights.get(name);
    return quantized ? quantizedRows(quantized, ids) : embeddingLookup(this.w<tf.Tensor2D>(name), ids);
  }

  /** A linear layer's matrix, bias and kept transposed copy (where keepsTransposedWeights); or its quantized matrix. */
  protected linearWeights(weightName: string, biasName: string | undefined, layout: LinearWeights['layout']): LinearWeights | QuantizedLinearWeights {
    const bias = biasName === undefined ? undefined : this.maybe<tf.Tensor1D>(biasName);
    const quantized = this.quantizedWeights.get(weightName);
    if (quantized) return { quantized, bias, layout };
    return {
      weight: this.w<tf.Tensor2D>(weightName),
      bias: biasName === undefined ? undefined : this.maybe<tf.Tensor1D>(biasName),
      layout,
      transposed: () => this.transposedWeights.get(weightName)?.transposed ?? null,
    };
  }

  /**
   * Called first by forward: backend set-up (ops.shareWasmIdentity) and fresh transposed copies for weights
   * replaced since (full fine-tuning's dispose puts plain tensors back).
   */
  protected beforeForward(): void {
    shareWasmIdentity();
    for (const [name, entry] of this.transposedWeights) {
      const weight = this.weights.get(name);
      // Trainable weights take another product (ops.linearProduct), so their copy is not kept in step.
      if (weight && !isTrainable(weight) && (weight !== entry.source || weight.dataId !== entry.dataId)) this.keepTransposed(name);
    }
  }

  private keepTransposed(name: string): void {
    const weight = this.weights.get(name);
    if (!weight || weight.rank !== 2) return;
    this.transposedWeights.get(name)?.transposed.dispose();
    const transposed = tf.keep(tf.tidy(() => weight.transpose() as tf.Tensor2D)); // [in, out] for [out, in]
    this.transposedWeights.set(name, { source: weight, dataId: weight.dataId, transposed });
  }

  /**
   * The LM head over the real positions of the final hidden states x [B·Tq, D]: all of them ([B, T, V]), the
   * last ([B, 1, V]) or opts.logitRows ([1, N, V]; with opts.targetLabels their losses [1, N, 1]). `transform`
   * maps logits to the model's final scores (Gemma's soft-capping); a head with one is never fused.
   */
  protected lmHead(
    x: tf.Tensor2D,
    ctx: ForwardContext,
    opts: ForwardOptions,
    head: LinearWeights | QuantizedLinearWeights,
    name: string,
    transform?: <T extends tf.Tensor>(logits: T) => T,
  ): tf.Tensor3D {
    const { batchSize, queryLen, virtualTokens } = ctx;
    const dModel = x.shape[1];
    /** The head's final scores for hidden states [.., D] → [.., V]. */
    const scores = <T extends tf.Tensor2D | tf.Tensor3D>(hidden: T): T => {
      const logits = linear(hidden, name, head, ctx.hooks);
      return transform ? transform(logits) : logits;
    };
    if (opts.logitRows) {
      const seqLen = queryLen - virtualTokens;
      // [B·T, D]: the virtual tokens' rows dropped
      const real = virtualTokens
        ? (x
            .reshape([batchSize, queryLen, dModel])
            .slice([0, virtualTokens, 0], [batchSize, seqLen, dModel])
            .reshape([batchSize * seqLen, dModel]) as tf.Tensor2D)
        : x;
      const rows = selectRows(real, opts.logitRows); // [N, D]
      const labels = opts.targetLabels;
      if (!labels) return scores(rows).expandDims(0) as tf.Tensor3D; // [1, N, V]
      if (labels.length !== opts.logitRows.length) throw new Error(`${labels.length} target labels for ${opts.logitRows.length} logit rows`);
      const hooked = ctx.hooks?.wrapLinear && (ctx.hooks.wrapsLinear?.(name) ?? true);
      const nll = !transform && !hooked && canFuseHead(head) ? fusedHeadNll(rows, head, labels) : rowNll(scores(rows), labels); // [N]
      return nll.reshape([1, labels.length, 1]); // [1, N, 1]
    }
    if (opts.targetLabels) throw new Error('targetLabels needs logitRows');
    const start = (opts.logits ?? 'all') === 'last' ? queryLen - 1 : virtualTokens;
    const hidden = x.reshape([batchSize, queryLen, dModel]) as tf.Tensor3D; // [B, Tq, D]
    const real = start ? hidden.slice([0, start, 0], [batchSize, queryLen - start, dModel]) : hidden; // [B, T|1, D]
    return scores(real); // [B, T|1, V]
  }

  makeTrainable(names?: string[]): tf.Variable[] {
    const chosen = names ?? [...this.weights.keys()];
    const variables: tf.Variable[] = [];
    for (const name of chosen) {
      const weight = this.weights.get(name);
      if (!weight && this.quantizedWeights.has(name)) throw new Error(`weight ${name} is kept quantized (a frozen base) and cannot be trained`);
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
    for (const { transposed } of this.transposedWeights.values()) transposed.dispose();
    this.transposedWeights.clear();
    this.quantizedWeights.clear();
  }
}

/** Parameter count of a set of weight shapes. */
export function countParameters(shapes: Map<string, number[]>): number {
  let total = 0;
  for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}
