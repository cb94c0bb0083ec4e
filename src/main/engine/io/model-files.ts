// Types and checks shared by the model loaders (HF folder, llama2.c): generation defaults and the
// memory estimate that refuses absurd configs before anything is allocated.
import { totalmem } from 'node:os';
import { ApiError } from '@shared/errors';
import type { ModelConfig } from '../models/causal-lm';

export interface LoadOptions {
  /** Refuse models whose float32 weights need more bytes than this (default: 3/4 of system memory). */
  maxBytes?: number;
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
