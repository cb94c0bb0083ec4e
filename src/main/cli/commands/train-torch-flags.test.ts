// `prefixlab train|compare --engine torch [--nproc N] [--accelerate-config FILE] [--python PATH]`: the flags reach
// the RunSpec and the launcher; bad ones are one line naming the flag; a torch run with a fake Python
// (services/training/torch-engine/fake-python.ts) prints the same JSON as our engine's runs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrainResultSchema } from '@shared/contract/training';
import { hasStoriesHf, storiesHf } from '../../engine/train/test-fixtures';
import { fakePythonEnv, writeFakePython } from '../../services/training/torch-engine/fake-python';
import { capture } from '../cli-harness';
import { runCli } from '../run-cli';
import { engineFlag, runSpecFromFlags } from '../run-spec-flags';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-cli-torch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = join(tmp, 'weather.jsonl');
writeFileSync(
  data,
  ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna']
    .flatMap((n) => [JSON.stringify({ text: `${n} saw the sun.`, label: 'happy' }), JSON.stringify({ text: `${n} saw the rain.`, label: 'sad' })])
    .join('\n') + '\n',
);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await runCli([...args, '--home', join(tmp, 'home'), '--backend', 'cpu'], out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

describe('--engine', () => {
  it('goes into the RunSpec; tfjs stays the default; other names are refused', () => {
    expect(runSpecFromFlags({ model: '/m', data: '/d', method: 'lora', engine: 'torch' }).engine).toBe('torch');
    expect(runSpecFromFlags({ model: '/m', data: '/d', method: 'lora' }).engine).toBe('tfjs');
    expect(() => engineFlag('jax')).toThrow('use tfjs or torch, got "jax"');
  });

  it('bad engine flags are one line naming the flag', async () => {
    const base = ['train', '--model', storiesHf, '--data', data, '--method', 'lora', '--steps', '1'];
    const cases: [string[], string][] = [
      [['--engine', 'jax'], 'prefixlab: train: --engine: use tfjs or torch, got "jax"'],
      [['--nproc', '2'], 'prefixlab: train: --nproc: needs --engine torch'],
      [['--engine', 'torch', '--nproc', '0'], 'prefixlab: train: --nproc: give a whole number of processes ≥ 1, got 0'],
      [['--engine', 'torch', '--accelerate-config', join(tmp, 'none.yaml')], `prefixlab: train: ${join(tmp, 'none.yaml')}: --accelerate-config: no such file`],
      [['--engine', 'torch', '--python', join(tmp, 'no-python')], `prefixlab: train: ${join(tmp, 'no-python')}: --python: no such file`],
    ];
    for (const [extra, line] of cases) {
      const { code, err } = await cli([...base, ...extra]);
      expect(code).not.toBe(0);
      expect(err.trim().split('\n')).toEqual([line]);
    }
  }, 60_000);

  it('documents the flags in train and compare usage', async () => {
    for (const command of ['train', 'compare']) {
      const { out } = await cli([command, '--help']);
      expect(out).toContain('[--engine tfjs|torch [--nproc N] [--accelerate-config FILE] [--python PATH]]');
    }
  });
});

describe.skipIf(!hasStoriesHf())('prefixlab train --engine torch (fake Python)', () => {
  it('runs through the torch engine and prints the usual JSON', async () => {
    const python = writeFakePython(join(tmp, 'bin'));
    const saved = process.env.FAKE_PY_OPTS;
    process.env.FAKE_PY_OPTS = fakePythonEnv({ plan: { totalSteps: 2, checkpointEvery: 1 } }, {}).FAKE_PY_OPTS;
    try {
      const { code, out, err } = await cli([
        'train',
        '--model',
        storiesHf,
        '--data',
        data,
        '--method',
        'ptplus',
        '--steps',
        '2',
        '--eval-split',
        '4',
        '--set',
        'batchSize=4',
        '--set',
        'maxLength=32',
        '--engine',
        'torch',
        '--python',
        python,
        '--json',
      ]);
      expect(err).not.toMatch(/Error|at /);
      expect(code).toBe(0);
      const result = TrainResultSchema.parse(JSON.parse(out));
      expect(result).toMatchObject({ status: 'finished', steps: 2, backend: 'torch (cpu)' });
      expect(JSON.parse(readFileSync(join(result.runDir, 'manifest.json'), 'utf8')).runSpec.engine).toBe('torch');

      // compare: every run of the plan goes to the torch engine.
      const compared = await cli([
        'compare',
        '--model',
        storiesHf,
        '--data',
        data,
        '--methods',
        'ptplus,lora',
        '--steps',
        '2',
        '--eval-split',
        '4',
        '--set',
        'batchSize=4',
        '--set',
        'maxLength=32',
        '--engine',
        'torch',
        '--python',
        python,
        '--out',
        join(tmp, 'cmp.json'),
        '--json',
      ]);
      expect(compared.code).toBe(0);
      const table = JSON.parse(compared.out) as { runs: { status: string; backend: string; method: string }[] };
      expect(table.runs.map((r) => [r.method, r.status, r.backend])).toEqual([
        ['ptplus', 'finished', 'torch (cpu)'],
        ['lora', 'finished', 'torch (cpu)'],
      ]);
    } finally {
      if (saved === undefined) delete process.env.FAKE_PY_OPTS;
      else process.env.FAKE_PY_OPTS = saved;
    }
  }, 120_000);
});
