// Where engine tests find data outside the source tree: the shared folder (stories260K and its reference
// outputs) and the repository's tiny HF fixtures. Tests skip with a message when either is absent.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
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
