// Prompt Tuning (Lester et al. 2021) with PEFT's semantics: p trainable input embeddings [p, D] prepended to
// the token embeddings through hooks.inputPrefixEmbeddings; positions run over prompt + input and the model
// returns logits for the real tokens only. stateDict key `prompt_embeddings` [p, D] is PEFT's saved tensor.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { promptOptions, type PromptOptions } from '@shared/methods/prompt-options';
import type { Architecture, CausalLM, ModelConfig } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import { initSeed } from '../../platform/derive-seed';
import { assignStateDict, configField, countVariables, isPositiveInt, toStateDict, variableScope } from './common';
import type { AttachContext, MethodDefinition, PeftAdapter, StateDict } from './method';

export { promptOptions, type PromptOptions };

/** The input token embedding matrix [V, D] of each family. */
export function tokenEmbeddingName(architecture: Architecture): string {
  switch (architecture) {
    case 'gpt2':
      return 'transformer.wte.weight';
    case 'gpt_neox':
      return 'gpt_neox.embed_in.weight';
    default:
      return 'model.embed_tokens.weight';
  }
}

/** PEFT's TEXT init: the text's ids, repeated then truncated to exactly p. */
export function fitToLength(ids: readonly number[], length: number): number[] {
  if (ids.length === 0) throw new ApiError('invalid_argument', 'initText encodes to no tokens', { field: 'initText' });
  const reps = Math.ceil(length / ids.length);
  return Array.from({ length: reps }, () => ids)
    .flat()
    .slice(0, length);
}

export interface PromptAdapter extends PeftAdapter {
  readonly method: 'prompt';
  readonly options: PromptOptions;
  exportConfig(): Record<string, unknown>;
}

class PromptAdapterImpl implements PromptAdapter {
  readonly method = 'prompt' as const;
  readonly hooks: ModelHooks;
  private readonly embeddings: tf.Variable;

  constructor(
    private readonly model: CausalLM,
    readonly options: PromptOptions,
    ctx: AttachContext,
  ) {
    const { vocabSize, hidden } = model.config;
    const p = options.numVirtualTokens;
    const initial = tf.tidy(() => {
      if (options.init === 'random') return tf.randomNormal([p, hidden], 0, options.randomStd, 'float32', initSeed(ctx.seed, 'prompt', 'prompt_embeddings')); // [p, D]
      let ids: tf.Tensor1D;
      if (options.init === 'sample-vocab') {
        ids = tf
          .randomUniform([p], 0, vocabSize, 'float32', initSeed(ctx.seed, 'prompt', 'sample-vocab ids'))
          .floor()
          .minimum(vocabSize - 1)
          .toInt() as tf.Tensor1D; // [p]
      } else {
        if (!ctx.encode) throw new ApiError('invalid_argument', "init 'text' needs the model's tokenizer", { field: 'init' });
        const textIds = ctx.encode(options.initText);
        const bad = textIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
        if (bad !== undefined) throw new ApiError('invalid_argument', `initText gave token id ${bad}, outside the vocabulary`, { field: 'initText' });
        ids = tf.tensor1d(fitToLength(textIds, p), 'int32'); // [p]
      }
      return model.embeddingRows(tokenEmbeddingName(model.config.architecture), ids); // [p, D]
    });
    this.embeddings = tf.variable(initial, true, `${variableScope('prompt')}prompt_embeddings`);
    initial.dispose();
    this.hooks = {
      inputPrefixEmbeddings: (batchSize) => this.embeddings.expandDims(0).tile([batchSize, 1, 1]) as tf.Tensor3D, // [B, p, D]
    };
  }

  exportConfig(): Record<string, unknown> {
    const initNames = { random: 'RANDOM', 'sample-vocab': 'SAMPLE_VOCAB', text: 'TEXT' } as const;
    return {
      peft_type: 'PROMPT_TUNING',
      task_type: 'CAUSAL_LM',
      num_virtual_tokens: this.options.numVirtualTokens,
      token_dim: this.embeddings.shape[1],
      num_transformer_submodules: 1,
      num_attention_heads: this.model.config.heads,
      num_layers: this.model.config.layers,
      prompt_tuning_init: initNames[this.options.init],
      prompt_tuning_init_text: this.options.init === 'text' ? this.options.initText : null,
      inference_mode: true,
    };
  }

  trainableVariables(): tf.Variable[] {
    return [this.embeddings];
  }

  trainableParamCount(): number {
    return countVariables([this.embeddings]);
  }

  stateDict(): StateDict {
    return toStateDict([['prompt_embeddings', this.embeddings]]);
  }

  loadStateDict(state: StateDict): void {
    assignStateDict(state, new Map([['prompt_embeddings', this.embeddings]]), 'prompt');
  }

  setTraining(): void {
    // No train-only behaviour.
  }

  dispose(): void {
    this.embeddings.dispose();
  }
}

export const promptMethod = {
  name: 'prompt',
  label: 'Prompt Tuning',
  summary: 'Trains p virtual token embeddings prepended to every input, as in PEFT.',
  options: promptOptions,
  defaultLearningRate: 1e-1,
  learningRateGrid: [3e-2, 1e-1, 3e-1],
  countParameters(config: ModelConfig, options: PromptOptions): number {
    return options.numVirtualTokens * config.hidden;
  },
  attach(model: CausalLM, options: PromptOptions, ctx: AttachContext): PromptAdapter {
    const parsed = promptOptions.parse(options);
    // Restoring: the saved tensor replaces the initial values, so neither the tokenizer nor the vocabulary is needed.
    return new PromptAdapterImpl(model, ctx.restoring ? { ...parsed, init: 'random' } : parsed, ctx);
  },
  virtualTokens: (options: PromptOptions) => ({ count: options.numVirtualTokens, placement: 'input' as const }),
  exports: {
    peft: {
      peftType: 'PROMPT_TUNING',
      write(adapter: PromptAdapter) {
        const config = adapter.exportConfig();
        // A TEXT init would make PEFT load a tokenizer just to build values the saved tensor replaces.
        if (config.prompt_tuning_init === 'TEXT') {
          config.prompt_tuning_init = 'RANDOM';
          config.prompt_tuning_init_text = null;
        }
        return { config, tensors: adapter.stateDict() };
      },
      readOptions: (config: Record<string, unknown>, file: string) => ({
        numVirtualTokens: configField<number>(config, 'num_virtual_tokens', isPositiveInt, file),
        init: 'random',
      }),
    },
  },
} satisfies MethodDefinition<typeof promptOptions, PromptAdapter>;
