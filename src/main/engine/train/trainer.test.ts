// The training loop on a tiny random LLaMA: determinism, resume after an interruption continues the same
// loss curve, cancellation within one step, a NaN loss stops the run with the last checkpoint intact,
// gradient accumulation equals one big batch, checkpoints appear only complete, and nothing leaks.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TrainProgress } from '@shared/contract/training';
import { initBackend } from '../backend';
import type { PeftAdapter } from '../methods/method';
import { getMethod } from '../methods/registry';
import { listCheckpoints, readCheckpoint } from './checkpoint';
import { trainerOptions } from '@shared/trainer-options';
import type { TrainerPlan } from './config';
import { tinyModel, toyExamples } from './test-fixtures';
import { Trainer, type TrainerInit } from './trainer';

beforeAll(async () => {
  await initBackend('cpu');
});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prefixlab-trainer-'));
  dirs.push(dir);
  return dir;
}

const examples = toyExamples(12);

function plan(overrides: Partial<TrainerPlan> = {}): TrainerPlan {
  return { ...trainerOptions.parse({ batchSize: 4, checkpointEvery: 0, evalEvery: 0, warmupSteps: 1 }), learningRate: 0.05, totalSteps: 6, seed: 3, ...overrides };
}

/** A real method on the tiny model: PT+ by default (no randomness), or LoRA with dropout (its own random stream). */
interface MethodChoice {
  name: string;
  options: Record<string, unknown>;
}
const PTPLUS: MethodChoice = { name: 'ptplus', options: { memoryInitStd: 0.01 } };
const LORA_DROPOUT: MethodChoice = { name: 'lora', options: { dropout: 0.3 } };

function setup(overrides: Partial<TrainerPlan> = {}, checkpointRoot: string | null = null, wrap?: (a: PeftAdapter) => PeftAdapter, method: MethodChoice = PTPLUS) {
  const model = tinyModel();
  const definition = getMethod(method.name);
  const base = definition.attach(model, definition.options.parse(method.options) as never, { seed: 5 });
  const adapter = wrap ? wrap(base) : base;
  const init: TrainerInit = { runId: 'test', model, adapter, examples, plan: plan(overrides), padId: 0, checkpointRoot };
  const trainer = new Trainer(init);
  return {
    model,
    adapter,
    trainer,
    dispose: () => {
      trainer.dispose();
      base.dispose();
      model.dispose();
    },
  };
}

async function losses(overrides: Partial<TrainerPlan> = {}, method: MethodChoice = PTPLUS): Promise<number[]> {
  const run = setup(overrides, null, undefined, method);
  const outcome = await run.trainer.run();
  run.dispose();
  return outcome.losses;
}

describe('Trainer', () => {
  it('reduces the loss and repeats the same loss curve for the same seed', async () => {
    const first = await losses({ totalSteps: 12 });
    const second = await losses({ totalSteps: 12 });
    expect(second).toEqual(first);
    expect(first.slice(-3).reduce((a, b) => a + b) / 3).toBeLessThan(first[0]);
    expect(await losses({ totalSteps: 12, seed: 4 })).not.toEqual(first);
  });

  it.each([
    ['PT+', PTPLUS],
    ['LoRA with dropout (masks continue from the checkpoint)', LORA_DROPOUT],
  ])('resuming %s from a checkpoint after an interruption gives the same next losses (within 1e-6)', async (_label, method) => {
    const straight = await losses({ totalSteps: 6 }, method);
    const root = tempDir();
    // Interrupted run: stops after step 3, leaving its checkpoint.
    const controller = new AbortController();
    const first = setup({ totalSteps: 6, checkpointEvery: 1 }, root, undefined, method);
    const partial = await first.trainer.run({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 3) controller.abort();
      },
    });
    first.dispose();
    expect(partial.status).toBe('cancelled');
    expect(partial.step).toBe(3);
    // A fresh process: new model, new adapter (restore replaces its initial values), new optimiser.
    const second = setup({ totalSteps: 6, checkpointEvery: 1 }, root, undefined, method);
    second.trainer.restore(readCheckpoint(listCheckpoints(root).pop()!.dir));
    const rest = await second.trainer.run();
    second.dispose();
    expect(rest.status).toBe('finished');
    expect(partial.losses).toEqual(straight.slice(0, 3));
    expect(rest.losses).toHaveLength(3);
    rest.losses.forEach((loss, i) => expect(Math.abs(loss - straight[3 + i])).toBeLessThan(1e-6));
  });

  it('cancel stops before the next step and leaves a usable checkpoint of the last completed step', async () => {
    const root = tempDir();
    const controller = new AbortController();
    const run = setup({ totalSteps: 50, checkpointEvery: 0 }, root);
    const outcome = await run.trainer.run({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort();
      },
    });
    run.dispose();
    expect(outcome.status).toBe('cancelled');
    expect(outcome.step).toBe(2);
    const checkpoint = readCheckpoint(outcome.lastCheckpoint!);
    expect(checkpoint.state.step).toBe(2);
    expect(checkpoint.optimizer.step).toBe(2);
  });

  it('a NaN loss stops the run with "step N: loss is NaN/Inf" and the last good checkpoint intact', async () => {
    const root = tempDir();
    const poison = { isOn: false };
    // Delegates to PT+ but adds NaN to every attention output once poisoned (the weights stay finite).
    const wrap = (inner: PeftAdapter): PeftAdapter => ({
      ...inner,
      method: inner.method,
      trainableVariables: () => inner.trainableVariables(),
      trainableParamCount: () => inner.trainableParamCount(),
      stateDict: () => inner.stateDict(),
      loadStateDict: (s) => inner.loadStateDict(s),
      setTraining: (t) => inner.setTraining(t),
      dispose: () => inner.dispose(),
      hooks: {
        attentionOutputTerm: (layer, query) => {
          const term = inner.hooks.attentionOutputTerm!(layer, query)!;
          return poison.isOn ? (term.add(NaN) as tf.Tensor4D) : term;
        },
      },
    });
    const run = setup({ totalSteps: 10, checkpointEvery: 1 }, root, wrap);
    const seen: TrainProgress[] = [];
    const outcome = await run.trainer.run({
      onProgress: (p) => {
        seen.push(p);
        if (p.step === 2) poison.isOn = true;
      },
    });
    run.dispose();
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/^step 3: loss is NaN\/Inf/);
    expect(seen.map((p) => p.step)).toEqual([1, 2]);
    const steps = listCheckpoints(root).map((c) => c.step);
    expect(Math.max(...steps)).toBe(2);
    const last = readCheckpoint(listCheckpoints(root).pop()!.dir);
    for (const { data } of Object.values(last.adapter)) expect(data.every(Number.isFinite)).toBe(true);
  });

  it('gradient accumulation over 2 × 2 examples equals one batch of 4', async () => {
    const big = await losses({ totalSteps: 3, batchSize: 4, gradAccumulation: 1 });
    const accumulated = await losses({ totalSteps: 3, batchSize: 2, gradAccumulation: 2 });
    accumulated.forEach((loss, i) => expect(loss).toBeCloseTo(big[i], 5));
  });

  it('reports progress fields and writes checkpoints only complete (no temp folders left)', async () => {
    const root = tempDir();
    const run = setup({ totalSteps: 4, checkpointEvery: 2, keepCheckpoints: 1, clipNorm: 0.5 }, root);
    const seen: TrainProgress[] = [];
    await run.trainer.run({ onProgress: (p) => void seen.push(p) });
    run.dispose();
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4]);
    for (const p of seen) {
      expect(p.totalSteps).toBe(4);
      expect(p.gradNorm).toBeGreaterThan(0);
      expect(p.tokensSeen).toBeGreaterThan(0);
      expect(p.memory.numTensors).toBeGreaterThan(0);
    }
    expect(seen[0].learningRate).toBeCloseTo(0.05);
    expect(seen[3].epoch).toBeCloseTo(4 / 3);
    expect(readdirSync(root)).toEqual(['step-000004']);
  });

  it('leaves no tensors behind once the trainer, adapter and model are disposed', async () => {
    const baseline = tf.memory().numTensors;
    const run = setup({ totalSteps: 3, gradAccumulation: 2, batchSize: 2 });
    await run.trainer.run();
    run.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
