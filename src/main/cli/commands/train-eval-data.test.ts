// `prefixlab train --eval-data FILE` through the CLI (its training process included), on the llama-gqa fixture
// model and the SST-2 fixture files (tests/fixtures/eval-data): the JSON has the test file's block, `runs show`
// and `runs list` report it; a bad test file is one line on stderr naming that file and line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunManifestSchema, TrainResultSchema } from '@shared/contract/training';
import { fixturesDir } from '../../engine/test-paths';
import { cli } from '../cli-harness';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-cli-eval-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const dataDir = resolve(fixturesDir, '../eval-data');
const trainFile = join(dataDir, 'sst2-train.tsv');
const testFile = join(dataDir, 'sst2-test.tsv');
const home = join(tmp, 'home');
const train = (evalData: string, extra: string[] = []) =>
  cli([
    'train',
    '--model',
    join(fixturesDir, 'llama-gqa'),
    '--data',
    trainFile,
    '--eval-data',
    evalData,
    '--method',
    'lora',
    '--steps',
    '2',
    '--set',
    'batchSize=4',
    '--set',
    'maxLength=48',
    ...extra,
    '--home',
    home,
    '--backend',
    'cpu',
    '--json',
  ]);

describe('prefixlab train --eval-data', () => {
  it('reports the test file in its JSON, and `runs show` / `runs list` show it', async () => {
    const run = await train(testFile, ['--eval-split', '4']);
    expect(run.code, run.stderr).toBe(0);
    const result = TrainResultSchema.parse(JSON.parse(run.stdout));
    expect(result.final.evalExamples).toBe(4);
    expect(result.finalTest?.evalExamples).toBe(8);

    const show = await cli(['runs', 'show', result.runId, '--home', home, '--json']);
    expect(show.code, show.stderr).toBe(0);
    const manifest = RunManifestSchema.parse(JSON.parse(show.stdout).manifest);
    expect(manifest.runSpec?.data.evalPath).toBe(testFile);
    expect(manifest.dataset.evalData).toMatchObject({ path: testFile, examples: 8 });
    expect(manifest.finalTest).toEqual(result.finalTest);

    const list = await cli(['runs', 'list', '--home', home, '--json']);
    const listed = (JSON.parse(list.stdout) as { runs: { id: string; metrics: Record<string, number> }[] }).runs.find((r) => r.id === result.runId);
    expect(listed?.metrics.testEvalLoss).toBe(result.finalTest!.evalLoss);
    expect(listed?.metrics.testEvalExamples).toBe(8);
  }, 240_000);

  it('a bad row of the test file: one line naming the file and line', async () => {
    const bad = join(dataDir, 'sst2-test-bad-label.tsv');
    const run = await train(bad);
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`prefixlab: train: ${bad}:3: label: the label is empty`);
  }, 120_000);
});
