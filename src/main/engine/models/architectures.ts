// Which model_type values we can build, and how: config parser, expected weight shapes, constructor.
import type * as tf from '@tensorflow/tfjs';
import type { CausalLM, ModelConfig } from './causal-lm';
import { Gpt2Model, gpt2WeightShapes, parseGpt2Config, type Gpt2Config } from './gpt2';
import { Gemma3Model, gemma3WeightShapes, parseGemma3Config, type Gemma3Config } from './gemma3';
import { GptNeoxModel, gptNeoxWeightShapes, parseGptNeoxConfig, type GptNeoxConfig } from './gpt-neox';
import { LlamaModel, llamaWeightShapes, parseLlamaConfig, type LlamaConfig } from './llama';
import { Phi3Model, phi3WeightShapes, parsePhi3Config, type Phi3Config } from './phi3';
import { Qwen3Model, qwen3WeightShapes, parseQwen3Config, type Qwen3Config } from './qwen3';

export interface ArchitectureSpec<C extends ModelConfig = ModelConfig> {
  parseConfig(raw: Record<string, unknown>, file: string): C;
  /** Every weight the model reads, by Hugging Face name. */
  weightShapes(config: C): Map<string, number[]>;
  create(config: C, weights: Map<string, tf.Tensor>): CausalLM;
  /** Prefixes some checkpoints omit (e.g. GPT-2 files saved from GPT2Model say 'h.0…' for 'transformer.h.0…'). */
  optionalPrefix?: string;
}

const llama: ArchitectureSpec<LlamaConfig> = {
  parseConfig: parseLlamaConfig,
  weightShapes: llamaWeightShapes,
  create: (config, weights) => new LlamaModel(config, weights),
};

const ARCHITECTURES: Record<string, ArchitectureSpec> = {
  llama: llama as ArchitectureSpec,
  mistral: llama as ArchitectureSpec,
  qwen2: llama as ArchitectureSpec,
  gpt2: {
    parseConfig: parseGpt2Config,
    weightShapes: gpt2WeightShapes,
    create: (config, weights) => new Gpt2Model(config, weights),
    optionalPrefix: 'transformer.',
  } satisfies ArchitectureSpec<Gpt2Config> as ArchitectureSpec,
  gpt_neox: {
    parseConfig: parseGptNeoxConfig,
    weightShapes: gptNeoxWeightShapes,
    create: (config, weights) => new GptNeoxModel(config, weights),
  } satisfies ArchitectureSpec<GptNeoxConfig> as ArchitectureSpec,
  gemma3_text: {
    parseConfig: parseGemma3Config,
    weightShapes: gemma3WeightShapes,
    create: (config, weights) => new Gemma3Model(config, weights),
  } satisfies ArchitectureSpec<Gemma3Config> as ArchitectureSpec,
  qwen3: {
    parseConfig: parseQwen3Config,
    weightShapes: qwen3WeightShapes,
    create: (config, weights) => new Qwen3Model(config, weights),
  } satisfies ArchitectureSpec<Qwen3Config> as ArchitectureSpec,
  phi3: {
    parseConfig: parsePhi3Config,
    weightShapes: phi3WeightShapes,
    create: (config, weights) => new Phi3Model(config, weights),
  } satisfies ArchitectureSpec<Phi3Config> as ArchitectureSpec,
};

export const SUPPORTED_MODEL_TYPES = Object.keys(ARCHITECTURES);

export function architectureFor(modelType: string): ArchitectureSpec | undefined {
  return Object.hasOwn(ARCHITECTURES, modelType) ? ARCHITECTURES[modelType] : undefined;
}
