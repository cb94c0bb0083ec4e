// The engine's public surface: model loading, the CausalLM contract and its hooks, generation.
export { initBackend, activeBackend, type BackendName } from './backend';
export type { Architecture, CausalLM, ForwardOptions, ModelConfig } from './models/causal-lm';
export type { ModelHooks, PrefixKeyValues, QueryViews } from './models/hooks';
export { KVCache } from './models/kv-cache';
export { createTinyModel, type TinyArchitecture } from './models/tiny-model';
export { SUPPORTED_MODEL_TYPES } from './models/registry';
export { loadModel, readModelConfig, detectFormat, type LoadedModel, type ModelFormat, type GenerationDefaults, type LoadOptions } from './io/load-model';
export type { TextTokenizer } from './io/tokenizer';
export { SafetensorsReader, writeSafetensors, type F32Tensor } from './io/safetensors';
export { generate, type GenerateOptions, type GenerateResult, type FinishReason } from './generate';
export { formatChat, type ChatMessage } from './chat';
