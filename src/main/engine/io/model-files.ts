// Types and checks shared by the model loaders (HF folder, llama2.c): generation defaults and the
// memory estimate that refuses absurd configs before anything is allocated.
import { totalmem } from 'node:os';
import { ApiError } from '@shared/errors';
import type { ModelConfig } from '../models/causal-lm';

export interface LoadOptions {
  /** Refuse models whose float32 weights need more bytes than this (default: 3/4 of system memory). */
  maxBytes?: number;
  /** A GGUF base: keep its layers' quantized linear matrices compact, dequantized per use (frozen bases only; see gguf-model.ts). */
  quantizedBase?: boolean;
}

/** Defaults from generation_config.json (HF) or the format's conventions (llama2.c). */
export interface GenerationDefaults {
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
}

/**
 * More layers than any published model has (the largest have a few hundred). Weight names are enumerated per
 * layer before the memory estimate can run, so a config claiming 2^31 layers must be refused up front: it
 * would otherwise exhaust memory just listing names.
 */
export const MAX_LAYERS = 4096;

/** Refuses an implausible layer count before anything is enumerated or allocated. */
export function checkLayerCount(value: unknown, field: string, file: string): void {
  if (typeof value === 'number' && value > MAX_LAYERS) {
    throw new ApiError('out_of_memory', `${field} = ${value} layers is not plausible (at most ${MAX_LAYERS}); the weights could not fit in any machine's memory`, { file, field });
  }
}

/** float32 bytes of the weights. */
export function weightBytes(config: ModelConfig): number {
  return config.parameters * 4;
}

export function checkMemory(config: ModelConfig, file: string, maxBytes = Math.floor(totalmem() * 0.75)): void {
  const bytes = weightBytes(config);
  if (!Number.isFinite(bytes) || bytes > maxBytes) {
    const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`;
    throw new ApiError(
      'out_of_memory',
      `this config needs ${gib(bytes)} for float32 weights (${config.parameters.toLocaleString('en')} parameters); the limit is ${gib(maxBytes)}`,
      { file },
    );
  }
}
