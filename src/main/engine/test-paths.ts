// Where engine tests find data outside the source tree: the shared folder (stories260K and its reference
// outputs), the repository's tiny HF fixtures and the cached real GGUF models. Tests skip with a message when
// one is absent.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(repoRoot, '../shared');
export const fixturesDir = resolve(repoRoot, 'tests/fixtures/models');

export const stories = {
  hf: resolve(sharedDir, 'models/stories260K-hf'),
  llama2c: resolve(sharedDir, 'models/stories260K-llama2c/stories260K.bin'),
  reference: resolve(sharedDir, 'reference/stories260K_greedy.json'),
};

/** True when the stories260K models and reference are present; logs why tests skip otherwise. */
export function hasStories(): boolean {
  const ok = existsSync(stories.hf) && existsSync(stories.llama2c) && existsSync(stories.reference);
  if (!ok) console.warn(`skipping stories260K tests: ${sharedDir} has no models/stories260K-* (set PREFIXLAB_SHARED)`);
  return ok;
}

/** Where scripts/models/fetch-models.py puts the two real GGUF models (PREFIXLAB_MODEL_CACHE overrides). */
export const modelCache = process.env.PREFIXLAB_MODEL_CACHE || join(homedir(), '.cache', 'prefixlab', 'models');

/** The pinned real models (fetch-models.py checks their sha256; tests check the size to tell a complete file). */
export const realModels = {
  smollm2: { file: 'SmolLM2-135M-Instruct.Q4_1.gguf', size: 98_362_432 },
  gemma3: { file: 'gemma-3-270m-q4_k_m.gguf', size: 253_113_024 },
} as const;
