// The app side of the torch engine end to end with a fake Python (fake-python.ts) and the real hand-off writer on
// stories260K: progress relayed from metrics.jsonl, the run recorded like ours (manifest with the RunSpec and
// engine "torch", curves, checkpoints, adapter), exact match decoded with our tokenizer, cancel (SIGTERM, then
// SIGKILL after the grace), a SIGKILLed run marked interrupted and resumed with --resume, missing Python packages.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainResultSchema, type TrainProgress } from '@shared/contract/training';
import type { RunSpec, RunSpecInput } from '@shared/run-spec';
import { initBackend } from '../../../engine/backend';
import { parseRunSpec } from '../../../engine/train/run-spec';
import { hasStoriesHf, storiesHf } from '../../../engine/train/test-fixtures';
import { readAdapterManifest } from '../../../registry/adapter-store';
import { RunsStore } from '../../../registry/runs-store';
import { resume, train } from '../train';
import { fakePythonEnv, writeFakePython, type FakePythonOptions } from './fake-python';
import { scoreGenerations } from './run-torch';

const isAvailable = hasStoriesHf();
let home: string;
let data: string;
let fake: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-torch-run-'));
  fake = writeFakePython(join(home, 'bin'));
  data = join(home, 'weather.jsonl');
  const rows: string[] = [];
  for (const name of ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna']) {
    rows.push(JSON.stringify({ text: `${name} saw the sun.`, label: 'happy' }));
    rows.push(JSON.stringify({ text: `${name} saw the rain.`, label: 'sad' }));
  }
  writeFileSync(data, rows.join('\n') + '\n');
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

function torchSpec(steps: number): RunSpec {
  return parseRunSpec({
    engine: 'torch',
    model: { path: storiesHf },
    data: { path: data, split: { evalSplit: 4 } },
    method: { name: 'ptplus', options: {} },
    trainer: { steps, batchSize: 4, maxLength: 32, warmupSteps: 0, evalEvery: 0 },
    seed: 1,
  } as RunSpecInput);
}

const torchOptions = (opts: FakePythonOptions, extra: { graceMs?: number } = {}) => ({ python: fake, env: fakePythonEnv(opts), pythonPath: null, pollMs: 50, ...extra });

function launches(runDir: string): { argv: string[] }[] {
  return readFileSync(join(runDir, 'launches.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe.skipIf(!isAvailable)('torch engine runs (fake Python, stories260K hand-off)', () => {
  it('relays progress, records the run like ours, scores exact match with our tokenizer and registers the adapter', async () => {
    const seen: TrainProgress[] = [];
    const result = await train({
      home,
      spec: torchSpec(4),
      torch: torchOptions({ plan: { totalSteps: 4, checkpointEvery: 2, evalEvery: 2, generate: true } }),
      onProgress: (p) => void seen.push(p),
    });
    expect(TrainResultSchema.parse(result)).toEqual(result);
    expect(result).toMatchObject({ status: 'finished', steps: 4, totalSteps: 4, backend: 'torch (cpu)', method: 'ptplus' });
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    expect(seen[1]).toMatchObject({ runId: result.runId, evalLoss: 0.5, evalAccuracy: 0.5, trainLoss: 1 });

    const store = new RunsStore(home);
    const manifest = store.read(result.runId);
    expect(manifest.runSpec?.engine).toBe('torch');
    expect(manifest).toMatchObject({ status: 'finished', step: 4, totalSteps: 4, backend: 'torch (cpu)' });
    expect(manifest.checkpoints.map((c) => c.step)).toEqual([2, 4]);
    expect(manifest.dataset.evalIds).toHaveLength(4);
    expect(manifest.trainableParams).toBeGreaterThan(0);
    // The curves read metrics.jsonl as ours: every step, in our event shape.
    expect(store.readMetrics(result.runId).map((p) => p.step)).toEqual([1, 2, 3, 4]);
    // The fake generated each eval example's own target but left the first empty: 3 of 4 match.
    expect(result.final).toMatchObject({ accuracy: 0.75, evalLoss: 0.5, evalExamples: 4, exactMatch: 0.75, perClassAccuracy: { happy: 1, sad: 0.5 } });
    expect(result).toMatchObject({ tokensPerSecond: 123, tokensSeen: 40 });
    expect(manifest.final).toEqual(result.final);
    expect(launches(result.runDir)[0].argv).toEqual(['-m', 'prefixlab_torch.train', '--handoff', join(result.runDir, 'handoff'), '--run-dir', result.runDir]);
    expect(result.adapterId).toBeDefined();
    expect(readAdapterManifest(home, result.adapterId!)).toMatchObject({ runId: result.runId, checkpointStep: 4, method: 'ptplus' });
  }, 120_000);

  it("scores the eval generations against the eval split and the test file's (testGenerations) against the test file: indices restart per split", async () => {
    const testFile = join(home, 'weather-test.jsonl');
    const names = ['Max', 'Zoe', 'Leo'];
    writeFileSync(
      testFile,
      names.flatMap((n) => [JSON.stringify({ text: `${n} saw the sun.`, label: 'happy' }), JSON.stringify({ text: `${n} saw the snow.`, label: 'sad' })]).join('\n') + '\n',
    );
    const spec = parseRunSpec({ ...torchSpec(2), data: { ...torchSpec(2).data, evalPath: testFile } } as RunSpecInput);
    const result = await train({ home, spec, torch: torchOptions({ plan: { totalSteps: 2, checkpointEvery: 2, generate: true } }) });
    expect(result.status).toBe('finished');
    // Eval: 3 of 4 (the first left empty); test: all 6 right — had eval index 0..3 been taken for test rows, neither would hold.
    expect(result.final.exactMatch).toBe(0.75);
    expect(result.finalTest?.exactMatch).toBe(1);
  }, 120_000);

  it('launches through accelerate with --nproc', async () => {
    const result = await train({ home, spec: torchSpec(2), torch: { ...torchOptions({ plan: { totalSteps: 2, checkpointEvery: 2 } }), nproc: 2 } });
    expect(result.status).toBe('finished');
    const argv = launches(result.runDir)[0].argv;
    expect(argv.slice(0, 3)).toEqual(['-m', 'accelerate.commands.launch', '--multi_gpu']);
    expect(argv.slice(argv.indexOf('--num_processes'), argv.indexOf('--num_processes') + 2)).toEqual(['--num_processes', '2']);
  }, 120_000);

  it('cancel: SIGTERM stops after the current step with a checkpoint; a process that ignores it is killed after the grace', async () => {
    const controller = new AbortController();
    const result = await train({
      home,
      spec: torchSpec(50),
      torch: torchOptions({ plan: { totalSteps: 50, checkpointEvery: 100, stepMs: 200 } }),
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    expect(result.status).toBe('cancelled');
    expect(result.steps).toBeGreaterThanOrEqual(2);
    expect(result.steps).toBeLessThan(50);
    expect(result.adapterId).toBeUndefined();
    const manifest = new RunsStore(home).read(result.runId);
    expect(manifest.status).toBe('cancelled');
    expect(manifest.checkpoints.map((c) => c.step)).toEqual([result.steps]);

    const stubborn = new AbortController();
    const started = Date.now();
    const killed = await train({
      home,
      spec: torchSpec(50),
      torch: torchOptions({ plan: { totalSteps: 50, checkpointEvery: 100, stepMs: 200, ignoreSigterm: true } }, { graceMs: 500 }),
      signal: stubborn.signal,
      onProgress: (p) => {
        if (p.step === 1) stubborn.abort();
      },
    });
    expect(killed.status).toBe('cancelled');
    expect(killed.reason).toBe('cancelled before the torch engine wrote its result');
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 120_000);

  it('a run whose Python is SIGKILLed is interrupted, and resumes from its last checkpoint with --resume', async () => {
    const options = torchOptions({ plan: { totalSteps: 6, checkpointEvery: 2, dieAt: 3 } });
    const first = await train({ home, spec: torchSpec(6), torch: options });
    expect(first.status).toBe('interrupted');
    expect(first.reason).toMatch(/^the torch engine was killed \(SIGKILL\) without a result; resume the run/);
    expect(new RunsStore(home).read(first.runId).status).toBe('interrupted');

    const seen: number[] = [];
    const resumed = await resume({ home, runId: first.runId, torch: options, onProgress: (p) => void seen.push(p.step) });
    expect(resumed).toMatchObject({ status: 'finished', steps: 6 });
    expect(seen).toEqual([3, 4, 5, 6]);
    expect(launches(first.runDir).map((l) => l.argv.includes('--resume'))).toEqual([false, true]);
    expect(new RunsStore(home).readMetrics(first.runId).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(resumed.adapterId).toBeDefined();
  }, 120_000);

  it('missing packages: one line naming the Python and the install command, and no run folder', async () => {
    const before = existsSync(join(home, 'runs')) ? readdirSync(join(home, 'runs')).length : 0;
    await expect(train({ home, spec: torchSpec(2), torch: torchOptions({ missing: ['accelerate'] }) })).rejects.toThrow(
      `--python ${fake} lacks accelerate; install the torch engine's dependencies with: bash python/setup-venv.sh`,
    );
    await expect(train({ home, spec: torchSpec(2), torch: { ...torchOptions({}), nproc: 0 } })).rejects.toThrow('give a whole number of processes ≥ 1, got 0');
    expect(existsSync(join(home, 'runs')) ? readdirSync(join(home, 'runs')).length : 0).toBe(before);
  }, 60_000);
});

describe('scoreGenerations', () => {
  it('decodes each generation, keeps its first line and compares it with its example target, per split', async () => {
    const examples = [
      { index: 0, id: 'a', split: 'train' as const },
      { index: 1, id: 'b', split: 'eval' as const },
      { index: 2, id: 'c', split: 'eval' as const },
      { index: 3, id: 't', split: 'test' as const },
    ];
    const ex = (id: string, target: string) => ({ id, prompt: 'p', target }) as never;
    const targets = {
      eval: new Map([
        ['b', ex('b', 'Paris')],
        ['c', ex('c', 'Rome')],
      ]),
      test: new Map([['t', ex('t', 'yes')]]),
    };
    const text: Record<number, string> = { 1: '\n  paris \nmore', 2: 'Milan', 3: 'YES' };
    const decode = (ids: number[]) => text[ids[0]];
    expect(
      scoreGenerations(
        [
          { index: 1, ids: [1] },
          { index: 2, ids: [2] },
          { index: 3, ids: [3] },
          { index: 0, ids: [1] },
        ],
        examples,
        targets,
        decode,
      ),
    ).toEqual({ eval: 0.5, test: 1 });
    expect(scoreGenerations([], examples, targets, decode)).toEqual({ eval: null, test: null });
  });
});
