// Where dataset tests find data outside the source tree (../shared: the real datasets and stories260K's
// tokenizer), and that tokenizer as the app loads it. Tests skip with a message when absent.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHfTokenizer, readHfConfig } from '../../engine/io/hf-folder';
import type { DatasetTokenizer } from '../stats/tokenize-example';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(repoRoot, '../shared');
export const datasetsDir = join(sharedDir, 'datasets');
export const brokenDir = join(repoRoot, 'tests/fixtures/datasets-broken');
export const fixturesDir = join(repoRoot, 'src/main/datasets/testing/fixtures');
const storiesTokenizer = join(sharedDir, 'models/stories260K-hf/tokenizer.json');

/** True when ../shared/datasets exists; logs why the tests that need it skip otherwise. */
export function hasSharedDatasets(): boolean {
  const ok = existsSync(join(datasetsDir, 'README.md'));
  if (!ok) console.warn(`skipping real-dataset tests: ${datasetsDir} not found (set PREFIXLAB_SHARED)`);
  return ok;
}

export function hasStoriesTokenizer(): boolean {
  const ok = existsSync(storiesTokenizer);
  if (!ok) console.warn(`skipping tokenizer tests: ${storiesTokenizer} not found (set PREFIXLAB_SHARED)`);
  return ok;
}

/**
 * stories260K's SentencePiece BPE (vocab 512), loaded as the app and the CLI load a model's tokenizer, without
 * its EOS id: these tests check the prompt/target rule alone (engine/train/encode-eos.test.ts covers EOS).
 */
export function loadStoriesTokenizer(): DatasetTokenizer {
  const dir = join(sharedDir, 'models/stories260K-hf');
  const tokenizer = loadHfTokenizer(dir, readHfConfig(dir).config); // what loadTokenizer does for a Hugging Face folder, synchronously
  if (!tokenizer) throw new Error('stories260K-hf has no tokenizer.json');
  return { encode: (text, opts) => tokenizer.encode(text, opts), decode: (ids, opts) => tokenizer.decode(ids, opts) };
}

/** A fresh temp folder, and the function that removes it. */
export async function tempDir(prefix = 'prefixlab-datasets-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
