// `prefixlab runs diagnostics ID [--initial]`: method.md §1's diagnostic from the command line (the results doc's
// plot reads it), on the llama-gqa fixture model: Prefix-Tuning's attention mass on the prefix per layer, untrained
// and trained (training moves it); PT+'s memory-to-attention ratio, exactly 0 untrained (M = 0) and > 0 trained;
// other methods and unknown runs get one line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../engine/test-paths';
import { cli } from '../cli-harness';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-cli-diagnostics-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const home = join(tmp, 'home');

async function trainRun(method: string, split: string[] = ['--eval-split', '4']): Promise<string> {
  const run = await cli([
    'train',
    ...['--model', join(fixturesDir, 'llama-gqa'), '--data', join(resolve(fixturesDir, '../eval-data'), 'sst2-train.tsv')],
    ...['--method', method, '--steps', '3', '--lr', '0.05', '--set', 'batchSize=4', '--set', 'maxLength=48', ...split],
    ...['--home', home, '--backend', 'cpu', '--json'],
  ]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout).runId as string;
}

const diagnose = (id: string, extra: string[] = []) => cli(['runs', 'diagnostics', id, '--texts', '4', ...extra, '--home', home, '--backend', 'cpu', '--json']);

describe('prefixlab runs diagnostics', () => {
  it('Prefix-Tuning: a share in [0, 1] per layer, untrained and trained, and training moves it', async () => {
    const id = await trainRun('prefix');
    const trained = await diagnose(id);
    const untrained = await diagnose(id, ['--initial']);
    expect(trained.code, trained.stderr).toBe(0);
    expect(untrained.code, untrained.stderr).toBe(0);
    const a = JSON.parse(trained.stdout);
    const b = JSON.parse(untrained.stdout);
    expect(a).toMatchObject({ kind: 'prefix-attention-mass', method: 'prefix', initial: false, texts: 4 });
    expect(b).toMatchObject({ kind: 'prefix-attention-mass', initial: true });
    for (const v of [...a.layerMeans, ...b.layerMeans]) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
    expect(Math.max(...a.layerMeans.map((v: number, i: number) => Math.abs(v - b.layerMeans[i])))).toBeGreaterThan(1e-4);
  });

  it("PT+: the memory's share is 0 untrained (M = 0) and positive after training; the text names each layer", async () => {
    const id = await trainRun('ptplus');
    const untrained = JSON.parse((await diagnose(id, ['--initial'])).stdout);
    expect(untrained.kind).toBe('ptplus-memory-ratio');
    expect(untrained.layerMeans.every((v: number) => v === 0)).toBe(true);
    const trained = JSON.parse((await diagnose(id)).stdout);
    expect(trained.layerMeans.every((v: number) => v > 0)).toBe(true);
    const text = await cli(['runs', 'diagnostics', id, '--texts', '2', '--home', home, '--backend', 'cpu']);
    expect(text.stdout).toMatch(/memory \/ attention output norm/);
    expect(text.stdout.match(/^ {2}layer/gm)).toHaveLength(trained.layerMeans.length);
  });

  it("a run scored on a test file (--eval-data) is measured on that file's prompts", async () => {
    const id = await trainRun('ptplus', ['--eval-split', '0', '--eval-data', join(resolve(fixturesDir, '../eval-data'), 'sst2-test.tsv')]);
    const d = JSON.parse((await cli(['runs', 'diagnostics', id, '--texts', '16', '--home', home, '--backend', 'cpu', '--json'])).stdout);
    // The test file has 8 rows (the training file 16): all 8 measured.
    expect(d.texts).toBe(8);
  });

  it('other methods and unknown runs: one line', async () => {
    const lora = await diagnose(await trainRun('lora'));
    expect(lora.code).not.toBe(0);
    expect(lora.stderr.trim().split('\n')).toHaveLength(1);
    expect(lora.stderr).toMatch(/apply to .*not lora/);
    const missing = await diagnose('no-such-run');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});
