// Every real dataset in ../shared/datasets imports with the right format, task, row count and labels (the
// counts in its README), and the service's import → split → load path round-trips through the app folder.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetManifestSchema, SplitSchema, type TaskKind } from '@shared/contract/datasets';
import { datasetsDir, hasSharedDatasets, tempDir } from '../datasets/testing/test-data';
import { importDataset, inspectDataset, loadExamples, makeSplit } from './dataset-service';

interface Expected {
  file: string;
  format: string;
  encoding?: string;
  task: TaskKind;
  rows: number;
  labels?: Record<string, number>;
  mapping?: Record<string, string>;
}

const each = (n: number, names: string[]): Record<string, number> => Object.fromEntries(names.map((k) => [k, n]));
const DBPEDIA = Array.from({ length: 14 }, (_, i) => String(i + 1));
const AG = ['World', 'Sports', 'Business', 'Sci/Tech'];

const EXPECTED: Expected[] = [
  { file: 'sst2/test_glue_dev.tsv', format: 'tsv', task: 'classification', rows: 872, labels: { 0: 428, 1: 444 }, mapping: { text: 'sentence', label: 'label' } },
  { file: 'sst2/dev_from_glue_train.tsv', format: 'tsv', task: 'classification', rows: 6735, labels: { 0: 2994, 1: 3741 } },
  // Header-less CSV, numeric classes named by classes.txt beside it; title and description both kept.
  { file: 'ag_news/test.csv', format: 'csv', task: 'classification', rows: 7600, labels: each(1900, AG), mapping: { text: 'column2', text2: 'column3', label: 'column1' } },
  // Header-less TSV: description TAB label name.
  {
    file: 'ag_news/train_sample_10k.tsv',
    format: 'tsv',
    task: 'classification',
    rows: 10001,
    labels: { World: 2509, Sports: 2458, Business: 2496, 'Sci/Tech': 2538 },
    mapping: { text: 'column1', label: 'column2' },
  },
  {
    file: 'trec/TREC.train',
    format: 'trec',
    encoding: 'windows-1252',
    task: 'classification',
    rows: 5452,
    labels: { ABBR: 86, DESC: 1162, ENTY: 1250, HUM: 1223, LOC: 835, NUM: 896 },
  },
  { file: 'trec/TREC.test', format: 'trec', encoding: 'utf-8', task: 'classification', rows: 500, labels: { ABBR: 9, DESC: 138, ENTY: 94, HUM: 65, LOC: 81, NUM: 113 } },
  { file: 'dbpedia14/train.tsv', format: 'tsv', task: 'classification', rows: 12600, labels: each(900, DBPEDIA) },
  { file: 'dbpedia14/dev.tsv', format: 'tsv', task: 'classification', rows: 700, labels: each(50, DBPEDIA) },
  { file: 'dbpedia14/test.tsv', format: 'tsv', task: 'classification', rows: 700, labels: each(50, DBPEDIA) },
  { file: 'rte/train.tsv', format: 'tsv', task: 'classification', rows: 2490, labels: { 0: 1249, 1: 1241 }, mapping: { text: 'sentence1', text2: 'sentence2', label: 'label' } },
  { file: 'rte/dev.tsv', format: 'tsv', task: 'classification', rows: 277, labels: { 0: 146, 1: 131 } },
  { file: 'gsm8k/train.jsonl', format: 'jsonl', task: 'completion', rows: 7473, mapping: { prompt: 'question', completion: 'answer' } },
  { file: 'gsm8k/test.jsonl', format: 'jsonl', task: 'completion', rows: 1319 },
  { file: 'alpaca_en_demo/alpaca_en_demo.json', format: 'json', task: 'instruction', rows: 999, mapping: { instruction: 'instruction', input: 'input', output: 'output' } },
  { file: 'e2e_nlg/devset.csv', format: 'csv', task: 'completion', rows: 4672, mapping: { prompt: 'mr', completion: 'ref' } },
  { file: 'e2e_nlg/testset_w_refs.csv', format: 'csv', task: 'completion', rows: 4693 },
  // "~1,000 stories, blank-line separated": the file has 4,302 blank-line separated documents (paragraphs).
  { file: 'tinystories_val_sample/tinystories_val.txt', format: 'text', task: 'text', rows: 4302 },
];

const shared = hasSharedDatasets();

describe.skipIf(!shared)('real datasets (needs ../shared/datasets)', () => {
  let home: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    home = await tempDir();
  });
  afterAll(async () => home.cleanup());

  it.each(EXPECTED)('$file imports as $task with $rows rows', async (expected) => {
    const file = join(datasetsDir, expected.file);
    const manifest = await importDataset(file, {}, home.dir);
    expect(DatasetManifestSchema.parse(manifest)).toEqual(manifest);
    expect(manifest.format).toBe(expected.format);
    expect(manifest.task).toBe(expected.task);
    expect(manifest.rows).toBe(expected.rows);
    expect(manifest.examples).toBe(expected.rows);
    expect(manifest.excluded).toBe(0);
    expect(manifest.excludedCounts).toEqual({});
    expect(manifest.labels).toEqual(expected.labels ?? {});
    if (expected.encoding) expect(manifest.encoding).toBe(expected.encoding);
    if (expected.mapping) expect(manifest.mapping).toEqual(expected.mapping);
    const stored = (await readFile(join(home.dir, 'datasets', manifest.id, 'examples.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(stored).toHaveLength(expected.rows);
  });

  it('reports TREC.train as Windows-1252 with the line of its one non-UTF-8 byte', async () => {
    const result = await inspectDataset(join(datasetsDir, 'trec/TREC.train'));
    expect(result.encoding).toBe('windows-1252');
    expect(result.warnings.find((w) => w.kind === 'encoding')?.line).toBe(66);
    const examples = await loadExamples(join(datasetsDir, 'trec/TREC.train'));
    expect(examples[65].prompt).toContain('sisterðcity');
  });

  it('gives TREC fine labels when mapped (50 classes)', async () => {
    const result = await inspectDataset(join(datasetsDir, 'trec/TREC.train'), { map: { label: 'fine' } });
    expect(Object.keys(result.labels)).toHaveLength(50);
    expect(result.labels['LOC:city']).toBeGreaterThan(0);
    expect(result.preview[0]).toMatchObject({ label: 'DESC:manner', target: ' DESC:manner' });
  });

  it('keeps the whole GSM8K answer as target and exposes the final answer after ####', async () => {
    const [first] = await loadExamples(join(datasetsDir, 'gsm8k/train.jsonl'));
    expect(first.prompt.startsWith('Natalia sold clips')).toBe(true);
    expect(first.target).toContain('<<48/2=24>>');
    expect(first.target.endsWith('#### 72')).toBe(true);
    expect(first.finalAnswer).toBe('72');
  });

  it('renders Alpaca with and without its input section', async () => {
    const examples = await loadExamples(join(datasetsDir, 'alpaca_en_demo/alpaca_en_demo.json'));
    const withInput = examples.find((e) => e.prompt.includes('### Input:'))!;
    const withoutInput = examples.find((e) => !e.prompt.includes('### Input:'))!;
    expect(withInput.prompt).toContain('paired with an input');
    expect(withoutInput.prompt).not.toContain('paired with an input');
    expect(withoutInput.prompt.endsWith('### Response:\n')).toBe(true);
    expect(examples[0].target.startsWith('Making crepes')).toBe(true);
  });

  it('finds the TREC test questions that are also in TREC.train (train_eval_overlap)', async () => {
    const result = await inspectDataset(join(datasetsDir, 'trec/TREC.train'), { evalFile: join(datasetsDir, 'trec/TREC.test') });
    expect(result.errorCounts.train_eval_overlap).toBe(10);
    const overlap = result.errors.find((e) => e.kind === 'train_eval_overlap')!;
    expect(overlap.file).toBe(join(datasetsDir, 'trec/TREC.test'));
    expect(overlap.message).toMatch(/TREC\.train at line \d+/);
    expect(result.exitCode).toBe(1);
  });

  it('imports, splits, stores and loads SST-2 by split', async () => {
    const file = join(datasetsDir, 'sst2/test_glue_dev.tsv');
    const manifest = await importDataset(file, { split: { seed: 7, evalFraction: 0.2 }, labelNames: { 0: 'negative', 1: 'positive' } }, home.dir);
    expect(manifest.labels).toEqual({ negative: 428, positive: 444 });
    expect(manifest.splits).toEqual(['default']);
    const dir = join(home.dir, 'datasets', manifest.id);
    const onDisk = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    expect(onDisk).toMatchObject({ source: { path: file, sha256: manifest.source.sha256 }, format: 'tsv', encoding: 'utf-8', rows: 872, excluded: 0 });
    const train = await loadExamples(dir, { split: 'train' });
    const evalSet = await loadExamples({ homeDir: home.dir, id: manifest.id }, { split: 'eval' });
    expect(train.length + evalSet.length).toBe(872);
    expect(evalSet.length).toBeGreaterThan(150);
    expect(evalSet[0].target).toMatch(/^ (negative|positive)$/);
    const again = await makeSplit(dir, { seed: 7, evalFraction: 0.2, save: 'again' });
    expect(again.evalIds).toEqual(evalSet.map((e) => e.id));
    const stored = SplitSchema.parse(JSON.parse(await readFile(join(dir, 'splits', 'again.json'), 'utf8')));
    expect(stored).toEqual(again);
    expect(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')).splits).toEqual(['default', 'again']);
  });
});
