// Prefix-Tuning (Li & Liang 2021) with Hugging Face PEFT's semantics, so adapters export to PEFT: p trainable
// key/value vectors per KV head in every layer, prepended through hooks.prefixKeyValues (no RoPE on them,
// visible to every token; real tokens then take positions p, p+1, …).
//
// Shapes (token_dim = H_kv·d, GQA-adjusted as PEFT does): with the MLP reparameterisation (default)
// embedding [p, token_dim] → Linear(token_dim → hidden) → tanh → Linear(hidden → L·2·token_dim); without it an
// embedding [p, L·2·token_dim]. Last-axis index ((2ℓ + kv)·H_kv + h)·d + e, kv 0 = K, 1 = V: PEFT's
// get_prompt views it as [B, p, L·2, H_kv, d], permutes to [L·2, B, H_kv, p, d] and splits in pairs (K, V).
// stateDict keys are PEFT's module names without the adapter name (prompt_encoder.embedding.weight,
// prompt_encoder.transform.{0,2}.{weight,bias}, torch Linear layout [out, in]); PEFT's saved
// `prompt_embeddings` [p, L·2·token_dim] comes from exportPromptEmbeddings().
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { prefixOptions, type PrefixOptions } from '@shared/methods/prefix-options';
import { prefixAttentionMass } from '../eval/attention-mass';
import type { CausalLM, ModelConfig } from '../models/causal-lm';
import type { ModelHooks, PrefixKeyValues } from '../models/hooks';
import { initSeed } from '../../platform/derive-seed';
import { assignStateDict, configField, countVariables, isPositiveInt, kaimingUniform, linearBias, toStateDict, variableScope } from './common';
import type { AttachContext, MethodDefinition, PeftAdapter, StateDict } from './method';

export { prefixOptions, type PrefixOptions };

/** PEFT's GQA-adjusted token_dim: head_dim · H_kv. */
export function prefixTokenDim(config: ModelConfig): number {
  return config.headDim * config.kvHeads;
}

export interface PrefixAdapter extends PeftAdapter {
  readonly method: 'prefix';
  readonly options: PrefixOptions;
  /** PEFT's `prompt_embeddings` [p, L·2·token_dim]: the MLP's output when reparameterised. */
  exportPromptEmbeddings(): StateDict[string];
  /** adapter_config.json fields for PEFT (base_model_name_or_path excluded). */
  exportConfig(): Record<string, unknown>;
}

class PrefixAdapterImpl implements PrefixAdapter {
  readonly method = 'prefix' as const;
  readonly hooks: ModelHooks;
  private readonly named = new Map<string, tf.Variable>();
  private readonly tokenDim: number;
  private readonly hiddenSize: number;
  /** This forward's keys/values of all layers [L, 2, H_kv, p, d], built at layer 0 and reused by the others. */
  private current: tf.Tensor5D | null = null;

  constructor(
    private readonly config: ModelConfig,
    readonly options: PrefixOptions,
    seed: number,
  ) {
    const p = options.numVirtualTokens;
    this.tokenDim = prefixTokenDim(config);
    this.hiddenSize = options.encoderHiddenSize ?? this.tokenDim;
    const outDim = config.layers * 2 * this.tokenDim;
    const scope = variableScope('prefix');
    const make = (name: string, initial: tf.Tensor): void => {
      this.named.set(name, tf.variable(initial, true, `${scope}${name}`));
      initial.dispose();
    };
    const seedOf = (name: string): number => initSeed(seed, 'prefix', name);
    // PEFT's init: nn.Embedding ~ N(0, 1), nn.Linear ~ kaiming_uniform(a=√5) with U(±1/√fan_in) bias.
    if (options.projection) {
      make('prompt_encoder.embedding.weight', tf.randomNormal([p, this.tokenDim], 0, 1, 'float32', seedOf('prompt_encoder.embedding.weight'))); // [p, token_dim]
      make('prompt_encoder.transform.0.weight', kaimingUniform([this.hiddenSize, this.tokenDim], seedOf('prompt_encoder.transform.0.weight'))); // [hidden, token_dim]
      make('prompt_encoder.transform.0.bias', linearBias(this.hiddenSize, this.tokenDim, seedOf('prompt_encoder.transform.0.bias'))); // [hidden]
      make('prompt_encoder.transform.2.weight', kaimingUniform([outDim, this.hiddenSize], seedOf('prompt_encoder.transform.2.weight'))); // [L·2·token_dim, hidden]
      make('prompt_encoder.transform.2.bias', linearBias(outDim, this.hiddenSize, seedOf('prompt_encoder.transform.2.bias'))); // [L·2·token_dim]
    } else {
      make('prompt_encoder.embedding.weight', tf.randomNormal([p, outDim], 0, 1, 'float32', seedOf('prompt_encoder.embedding.weight'))); // [p, L·2·token_dim]
    }
    this.hooks = { prefixKeyValues: (layer, batchSize) => this.keyValues(layer, batchSize) };
  }

  /** [p, L·2·token_dim]; a new tensor (differentiable w.r.t. the variables). */
  private promptEmbeddings(): tf.Tensor2D {
    const embedding = this.named.get('prompt_encoder.embedding.weight') as tf.Tensor2D;
    if (!this.options.projection) return embedding.clone();
    const v = (name: string): tf.Tensor => this.named.get(`prompt_encoder.transform.${name}`)!;
    const hidden = tf.tanh(tf.matMul(embedding, v('0.weight') as tf.Tensor2D, false, true).add(v('0.bias'))); // [p, hidden]
    return tf.matMul(hidden as tf.Tensor2D, v('2.weight') as tf.Tensor2D, false, true).add(v('2.bias')); // [p, L·2·token_dim]
  }

  private keyValues(layer: number, batchSize: number): PrefixKeyValues {
    const { layers, kvHeads, headDim } = this.config;
    const p = this.options.numVirtualTokens;
    if (layer === 0 || !this.current) {
      this.current = this.promptEmbeddings()
        .reshape([p, layers, 2, kvHeads, headDim]) // [p, L, 2, H_kv, d]
        .transpose([1, 2, 3, 0, 4]) as tf.Tensor5D; // [L, 2, H_kv, p, d]
    }
    const all = this.current;
    const pick = (kv: number): tf.Tensor4D =>
      all
        .slice([layer, kv, 0, 0, 0], [1, 1, kvHeads, p, headDim]) // [1, 1, H_kv, p, d]
        .reshape([1, kvHeads, p, headDim]) // [1, H_kv, p, d]
        .tile([batchSize, 1, 1, 1]) as tf.Tensor4D; // [B, H_kv, p, d]
    const result = { keys: pick(0), values: pick(1) };
    // The forward's tidy owns `current`; drop the reference once the last layer has its slice.
    if (layer === layers - 1) this.current = null;
    return result;
  }

  exportPromptEmbeddings(): StateDict[string] {
    const embeddings = tf.tidy(() => this.promptEmbeddings()); // [p, L·2·token_dim]
    try {
      return toStateDict([['prompt_embeddings', embeddings]]).prompt_embeddings;
    } finally {
      embeddings.dispose();
    }
  }

  exportConfig(): Record<string, unknown> {
    return {
      peft_type: 'PREFIX_TUNING',
      task_type: 'CAUSAL_LM',
      num_virtual_tokens: this.options.numVirtualTokens,
      token_dim: this.tokenDim,
      num_transformer_submodules: 1,
      num_attention_heads: this.config.kvHeads,
      num_layers: this.config.layers,
      encoder_hidden_size: this.hiddenSize,
      prefix_projection: this.options.projection,
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

  /** Also accepts PEFT's saved `{ prompt_embeddings }` when the prefix is not reparameterised. */
  loadStateDict(state: StateDict): void {
    if (!this.options.projection && 'prompt_embeddings' in state && Object.keys(state).length === 1) {
      state = { 'prompt_encoder.embedding.weight': state.prompt_embeddings };
    }
    assignStateDict(state, this.named, 'prefix');
  }

  setTraining(): void {
    // No train-only behaviour.
  }

  dispose(): void {
    for (const variable of this.named.values()) variable.dispose();
    this.named.clear();
    this.current = null;
  }
}

export const prefixMethod = {
  name: 'prefix',
  label: 'Prefix-Tuning',
  summary: 'Trains p key/value vectors per layer that every token attends to (optionally through an MLP), as in PEFT.',
  options: prefixOptions,
  defaultLearningRate: 1e-3,
  learningRateGrid: [1e-4, 3e-4, 1e-3, 3e-3],
  countParameters(config: ModelConfig, options: PrefixOptions): number {
    const p = options.numVirtualTokens;
    const tokenDim = prefixTokenDim(config);
    const outDim = config.layers * 2 * tokenDim;
    if (!options.projection) return p * outDim;
    const hidden = options.encoderHiddenSize ?? tokenDim;
    return p * tokenDim + hidden * tokenDim + hidden + outDim * hidden + outDim;
  },
  attach(model: CausalLM, options: PrefixOptions, ctx: AttachContext): PrefixAdapter {
    return new PrefixAdapterImpl(model.config, prefixOptions.parse(options), ctx.seed);
  },
  // Key/value pairs only, but the real tokens' positions start after them (as in PEFT).
  virtualTokens: (options: PrefixOptions) => ({ count: options.numVirtualTokens, placement: 'keys' as const }),
  diagnostics: { kind: 'prefix-attention-mass', measure: (model, adapter, tokenizer, texts) => prefixAttentionMass(model, adapter, tokenizer, texts) },
  exports: {
    peft: {
      peftType: 'PREFIX_TUNING',
      // We write the reparameterisation's output, which PEFT reads as a plain (unprojected) prefix.
      write: (adapter: PrefixAdapter) => ({
        config: { ...adapter.exportConfig(), prefix_projection: false },
        tensors: { prompt_embeddings: adapter.exportPromptEmbeddings() },
      }),
      readOptions(config: Record<string, unknown>, file: string): Record<string, unknown> {
        if (config.prefix_projection === true) {
          throw new ApiError('unsupported', 'a projected prefix (prefix_projection true) is not a format we write', { file, field: 'prefix_projection' });
        }
        return { numVirtualTokens: configField<number>(config, 'num_virtual_tokens', isPositiveInt, file), projection: false };
      },
    },
  },
} satisfies MethodDefinition<typeof prefixOptions, PrefixAdapter>;
