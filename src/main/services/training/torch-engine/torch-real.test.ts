// End to end with the real engine: the repository's .venv Python (torch, transformers, peft, accelerate) and
// python/prefixlab_torch on stories260K, through the service like `prefixlab train --engine torch`. Skips, saying
// why, when the .venv or the package is absent.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainResultSchema, type TrainProgress } from '@shared/contract/training';
import type { RunSpecInput } from '@shared/run-spec';
import { initBackend } from '../../../engine/backend';
import { parseRunSpec } from '../../../engine/train/run-spec';
import { storiesHf } from '../../../engine/train/test-fixtures';
import { RunsStore } from '../../../registry/runs-store';
import { resume, train } from '../train';
import { realTorchSkipReason, venvPython, writeWeatherData } from './real-python-fixture';

const skip = realTorchSkipReason();
if (skip) console.warn(`skipping the real torch engine run: ${skip}`);

let home: string;
let data: string;
beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-torch-real-'));
  data = writeWeatherData(join(home, 'weather.jsonl'));
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(skip !== null)('torch engine, real Python (stories260K)', () => {
  const spec = (checkpointEvery: number) =>
    parseRunSpec({
      engine: 'torch',
      model: { path: storiesHf },
      data: { path: data, split: { evalSplit: 4 } },
      method: { name: 'lora', options: { dropout: 0 } },
      trainer: { steps: 4, batchSize: 4, maxLength: 32, warmupSteps: 0, evalEvery: 2, checkpointEvery },
      seed: 1,
    } as RunSpecInput);
  let straight: number[] = [];

  it('trains LoRA for 4 steps, relays progress and records a finished run with an adapter', async () => {
    const seen: TrainProgress[] = [];
    const result = await train({ home, spec: spec(2), torch: { python: venvPython }, onProgress: (p) => void seen.push(p) });
    expect(result.reason).toBeUndefined();
    expect(TrainResultSchema.parse(result)).toEqual(result);
    expect(result).toMatchObject({ status: 'finished', steps: 4, totalSteps: 4, method: 'lora' });
    expect(result.backend).toMatch(/^torch \(/);
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    for (const p of seen) expect(Number.isFinite(p.trainLoss)).toBe(true);
    const manifest = new RunsStore(home).read(result.runId);
    expect(manifest.runSpec?.engine).toBe('torch');
    expect(manifest.checkpoints.map((c) => c.step)).toContain(4);
    expect(result.final.accuracy).not.toBeNull();
    expect(result.adapterId).toBeDefined();
    expect(new RunsStore(home).list().map((r) => r.runId)).toContain(result.runId);
    straight = seen.map((p) => p.trainLoss);
  }, 300_000);

  it('a run whose Python is SIGKILLed is interrupted and resumes on the same loss curve', async () => {
    // 40 steps (a checkpoint each): long enough that the kill at step 2 lands before the end whatever the machine's speed.
    const long = () => {
      const s = spec(1);
      return { ...s, trainer: { ...s.trainer, steps: 40, evalEvery: 0 } };
    };
    const whole = await train({ home, spec: long(), torch: { python: venvPython } });
    expect(whole.status).toBe('finished');
    const uninterrupted = new RunsStore(home).readMetrics(whole.runId).map((p) => p.trainLoss);
    let pid = 0;
    let killed = false;
    const first = await train({
      home,
      spec: long(),
      torch: { python: venvPython },
      onSpawn: (p) => void (pid = p),
      onProgress: (p) => {
        // The engine runs in its own process group: kill all of it, as a crash would.
        if (p.step >= 2 && !killed) {
          killed = true;
          process.kill(-pid, 'SIGKILL');
        }
      },
    });
    expect(first.status).toBe('interrupted');
    const resumed = await resume({ home, runId: first.runId, torch: { python: venvPython } });
    expect(resumed).toMatchObject({ status: 'finished', steps: 40 });
    const losses = new RunsStore(home).readMetrics(first.runId).map((p) => p.trainLoss);
    expect(losses).toHaveLength(40);
    losses.forEach((loss, i) => expect(loss).toBeCloseTo(uninterrupted[i], 5));
  }, 300_000);

  // evalGenerate: Python generates greedily for the eval examples (result.json `generations`), the service decodes
  // them with our tokenizer and scores exact match: the same number as our engine's run of the same spec.
  it.each(['lora', 'ptplus'])(
    '%s with evalGenerate reports the same exact match on both engines',
    async (method) => {
      const qa = join(home, 'qa.jsonl');
      const names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna', 'Max', 'Zoe', 'Leo', 'Ivy'];
      const rows = names.flatMap((n) => [
        // The newline ends the answer's line (exact match compares the first line): stories260K learns it in 40 steps.
        JSON.stringify({ prompt: `${n} saw the sun. ${n} was`, completion: ' happy.\n' }),
        JSON.stringify({ prompt: `${n} saw the rain. ${n} was`, completion: ' sad.\n' }),
      ]);
      writeFileSync(qa, rows.join('\n') + '\n');
      const generating = (engine: 'tfjs' | 'torch') =>
        parseRunSpec({
          engine,
          model: { path: storiesHf },
          data: { path: qa, split: { evalSplit: 6 } },
          method: { name: method, options: method === 'lora' ? { dropout: 0 } : {} },
          trainer: { steps: 40, batchSize: 4, maxLength: 32, learningRate: 0.02, evalEvery: 0, checkpointEvery: 0, evalGenerate: true },
          seed: 3,
        } as RunSpecInput);
      const ours = await train({ home, spec: generating('tfjs') });
      const torch = await train({ home, spec: generating('torch'), torch: { python: venvPython } });
      expect(torch.reason).toBeUndefined();
      expect(ours.status).toBe('finished');
      expect(torch.status).toBe('finished');
      // Learnt enough to get some right: the comparison is not of two zeros.
      expect(ours.final.exactMatch).toBeGreaterThan(0);
      expect(torch.final.exactMatch).toBe(ours.final.exactMatch);
      console.log(`${method}: exact match ${ours.final.exactMatch} (tfjs) = ${torch.final.exactMatch} (torch)`);
    },
    300_000,
  );

  it('--nproc 2 launches two CPU ranks through accelerate and follows the one-process loss curve', async () => {
    const result = await train({ home, spec: spec(4), torch: { python: venvPython, nproc: 2 } });
    expect(result.reason).toBeUndefined();
    expect(result).toMatchObject({ status: 'finished', steps: 4 });
    const losses = new RunsStore(home).readMetrics(result.runId).map((p) => p.trainLoss);
    losses.forEach((loss, i) => expect(loss).toBeCloseTo(straight[i], 4));
    // torchrun's per-rank logs: two ranks ran.
    const logs = join(new RunsStore(home).runDir(result.runId), 'launch-logs');
    const ranks = readdirSync(logs, { recursive: true }).filter((f) => /(^|\/)\d+$/.test(String(f)));
    expect(ranks.length).toBeGreaterThanOrEqual(2);
  }, 300_000);
});
