// The datasets stored under <home>/datasets as the workbench lists them: each manifest with a summary of
// every split (counts and train labels, read from examples.jsonl once per split and kept), and the lookups
// handlers need (a dataset's folder, manifest and splits) so they never read the folders themselves.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetEntry, SplitSummary } from '@shared/contract/calls/datasets';
import type { DatasetManifest, Split } from '@shared/contract/datasets';
import { DATASETS_DIR, datasetDir, readManifest, readSplit, readStoredExamples } from '../datasets/store/dataset-folder';

export { datasetDir, readManifest, readSplit };

/** Split summaries are read from examples.jsonl once per (dataset, split) and kept. */
const summaryCache = new Map<string, SplitSummary>();

/** A split's counts and train labels (cached by folder, name, method, seed and sizes). */
export async function summariseSplit(dir: string, name: string, split: Split): Promise<SplitSummary> {
  const key = `${dir}\u0000${name}\u0000${split.method}\u0000${split.seed}\u0000${split.trainIds.length}\u0000${split.evalIds.length}`;
  const cached = summaryCache.get(key);
  if (cached) return cached;
  const train = new Set(split.trainIds);
  const trainLabels: Record<string, number> = {};
  for await (const example of readStoredExamples(dir)) {
    if (example.label !== undefined && train.has(example.id)) trainLabels[example.label] = (trainLabels[example.label] ?? 0) + 1;
  }
  const summary: SplitSummary = {
    name,
    method: split.method,
    seed: split.seed,
    trainCount: split.trainIds.length,
    evalCount: split.evalIds.length,
    testCount: split.testIds?.length ?? 0,
    trainLabels,
  };
  if (split.k !== undefined) summary.k = split.k;
  if (split.evalFraction !== undefined) summary.evalFraction = split.evalFraction;
  summaryCache.set(key, summary);
  return summary;
}

/** Drops the kept summaries of split `name` of the dataset in `dir` (it was just rewritten). */
export function forgetSplitSummary(dir: string, name: string): void {
  for (const key of summaryCache.keys()) if (key.startsWith(`${dir}\u0000${name}\u0000`)) summaryCache.delete(key);
}

/** A manifest with the summaries of its readable splits (an unreadable split is left out). */
export async function datasetEntry(dir: string, manifest: DatasetManifest): Promise<DatasetEntry> {
  const splitSummaries: SplitSummary[] = [];
  for (const name of manifest.splits) {
    const split = await readSplit(dir, name).catch(() => null);
    if (split) splitSummaries.push(await summariseSplit(dir, name, split));
  }
  return { ...manifest, splitSummaries };
}

/** Every readable stored dataset, newest first (a folder without a readable manifest is skipped). */
export async function listDatasetEntries(home: string): Promise<DatasetEntry[]> {
  const root = join(home, DATASETS_DIR);
  if (!existsSync(root)) return [];
  const entries: DatasetEntry[] = [];
  for (const id of await readdir(root)) {
    if (id.startsWith('.')) continue;
    const dir = join(root, id);
    const manifest = await readManifest(dir).catch(() => null);
    if (manifest) entries.push(await datasetEntry(dir, manifest));
  }
  return entries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
