// A real data folder to fuzz and crash-test against: an imported model and dataset, a run trained for two
// steps on a tiny fixture model (manifest, metrics, checkpoints) and the adapter made from it, a comparison
// file and index.json — everything written by the app's own code paths.
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ApiErrorData } from '@shared/errors';
import { createAppContext } from '../../../src/main/app/context';
import { handlers } from '../../../src/main/handlers';
import { readIndex } from '../../../src/main/registry/index-store';
import { createDispatcher } from '../../../src/main/rpc/dispatch';
import { trainFromFlags as train } from '../../../src/main/cli/testing/requests-from-flags';

export const REPO = resolve(import.meta.dirname, '../../..');
/** The smallest fixture model with a tokenizer (2 layers, D = 64, vocab 384, ~0.5 MB). */
export const FIXTURE_MODEL = join(REPO, 'tests/fixtures/models/llama-gqa');

/** A small classification JSONL: `n` short reviews, labels pos/neg. */
export function classificationJsonl(n = 24): string {
  const words = ['good', 'bad', 'great', 'awful', 'fine', 'poor', 'nice', 'dull'];
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({ text: `the film was ${words[i % words.length]} and ${words[(i * 3) % words.length]} ${i}`, label: i % 2 ? 'pos' : 'neg' }),
    ).join('\n') + '\n'
  );
}

export interface SeededHome {
  /** The folder that holds home/, the model copy and the data file. */
  root: string;
  home: string;
  modelDir: string;
  dataFile: string;
  runId: string;
  adapterId: string;
  /** Every JSON/JSONL file under home, relative path → bytes (the pristine state to restore). */
  files: Map<string, Buffer>;
}

/** Builds the folder under `root` (takes a few seconds: it trains two steps). */
export async function seedHome(root: string): Promise<SeededHome> {
  const home = join(root, 'home');
  const modelDir = join(root, 'model');
  const dataFile = join(root, 'data.jsonl');
  mkdirSync(home, { recursive: true });
  cpSync(FIXTURE_MODEL, modelDir, { recursive: true });
  writeFileSync(dataFile, classificationJsonl());
  const app = createAppContext({ home, shell: 'headless', roots: [root] });
  const dispatch = createDispatcher(handlers, app);
  const expectOk = async (name: string, request: unknown): Promise<unknown> => {
    const reply = await dispatch(name, request);
    if (!reply.ok) throw new Error(`${name} failed while seeding: ${(reply.error as ApiErrorData).message}`);
    return reply.result;
  };
  await expectOk('models.import', { path: modelDir, name: 'fixture' });
  await expectOk('datasets.import', { file: dataFile, name: 'reviews' });
  const result = await train({
    home,
    model: modelDir,
    data: dataFile,
    method: 'lora',
    steps: 2,
    seed: 1,
    set: { batchSize: '4', maxLength: '32', checkpointEvery: '1', evalEvery: '0', maxEvalExamples: '4' },
    isolate: 'inline',
  });
  if (!result.adapterId) throw new Error('seeding made no adapter');
  const comparisonId = '20250101-000000-abcd';
  mkdirSync(join(home, 'comparisons'), { recursive: true });
  writeFileSync(
    join(home, 'comparisons', `${comparisonId}.json`),
    JSON.stringify({
      comparisonId,
      createdAt: '2025-01-01T00:00:00.000Z',
      modelId: 'fixture-000000',
      modelName: 'fixture',
      datasetId: 'reviews',
      datasetName: 'reviews',
      splitName: 'default',
      methods: [{ method: 'lora', options: {} }],
      seeds: [1],
      steps: 2,
      budgetTokens: null,
      trainer: {},
      items: [{ itemId: 'a1b2c3d4e5f6', comparisonId, kind: 'train', method: 'lora', seed: 1, status: 'finished', runId: result.runId, enqueuedAt: '2025-01-01T00:00:00.000Z' }],
    }),
  );
  await readIndex(home);
  return { root, home, modelDir, dataFile, runId: result.runId, adapterId: result.adapterId, files: snapshotFiles(home) };
}

/** Every .json/.jsonl file under `home` (checkpoint tensors excluded: they have their own target). */
export function snapshotFiles(home: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.jsonl?$/.test(name)) out.set(relative(home, path), readFileSync(path));
    }
  };
  walk(home);
  return out;
}
