// The stored datasets as the workbench lists them: every readable manifest with its split summaries, newest
// first; hidden (half-built) and unreadable folders left out; a rewritten split summarised afresh.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../datasets/testing/test-data';
import { importDataset, makeSplit } from './dataset-service';
import { datasetDir, forgetSplitSummary, listDatasetEntries, summariseSplit } from './stored-datasets';

describe('stored datasets', () => {
  let home: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    home = await tempDir();
  });
  afterAll(async () => home.cleanup());

  it('an empty data folder has none', async () => {
    expect(await listDatasetEntries(join(home.dir, 'nothing-here'))).toEqual([]);
  });

  it('lists imported datasets with split summaries and skips hidden and unreadable folders', async () => {
    const file = join(home.dir, 'sentiment.jsonl');
    const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ text: `review ${i}`, label: i % 2 ? 'positive' : 'negative' }));
    await writeFile(file, rows.join('\n') + '\n');
    const manifest = await importDataset(file, { task: 'classification' }, home.dir);
    const dir = datasetDir(home.dir, manifest.id);
    await makeSplit(dir, { method: 'random', seed: 3, evalFraction: 0.25, save: 'quarter' });
    await mkdir(join(home.dir, 'datasets', '.partial-import'), { recursive: true });
    await mkdir(join(home.dir, 'datasets', 'broken'), { recursive: true });
    await writeFile(join(home.dir, 'datasets', 'broken', 'manifest.json'), '{"id": 1');

    const entries = await listDatasetEntries(home.dir);
    expect(entries.map((e) => e.id)).toEqual([manifest.id]);
    const summary = entries[0].splitSummaries.find((s) => s.name === 'quarter')!;
    expect(summary).toMatchObject({ name: 'quarter', method: 'random', seed: 3, trainCount: 15, evalCount: 5, evalFraction: 0.25 });
    expect(Object.values(summary.trainLabels).reduce((a, b) => a + b, 0)).toBe(15);
  });

  it('a split rewritten under the same name is summarised afresh', async () => {
    const [entry] = await listDatasetEntries(home.dir);
    const dir = datasetDir(home.dir, entry.id);
    const again = await makeSplit(dir, { method: 'random', seed: 3, evalFraction: 0.5, save: 'quarter' });
    forgetSplitSummary(dir, 'quarter');
    expect(await summariseSplit(dir, 'quarter', again)).toMatchObject({ trainCount: 10, evalCount: 10, evalFraction: 0.5 });
  });
});
