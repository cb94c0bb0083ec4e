// The memory guard refuses runs that cannot fit before loading anything, warns near the limit and says what
// to change; the training job calls it; a non-finite loss stops a run and names the step.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { checkRunMemory, guardRunMemory, memoryBudget, WARN_FRACTION } from '../../src/main/engine/train/memory-guard';
import { parseGpt2Config } from '../../src/main/engine/models/gpt2';
import { parseLlamaConfig } from '../../src/main/engine/models/llama';
import { PUBLISHED_SHAPES } from '../../src/main/engine/models/published-shapes';
import { readModelConfig } from '../../src/main/engine/io/load-model';
import { getMethod } from '../../src/main/engine/methods/registry';
import { runTrainJobFromFlags as runTrainJob } from '../../src/main/cli/testing/requests-from-flags';
import { RunsStore } from '../../src/main/registry/runs-store';
import { classificationJsonl, FIXTURE_MODEL } from '../fuzz/lib/home-fixture';

const GiB = 2 ** 30;
const lora = getMethod('lora').options.parse({}) as Record<string, unknown>;
const full = getMethod('full').options.parse({}) as Record<string, unknown>;
const { config } = readModelConfig(FIXTURE_MODEL);
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-guard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('resource guard', () => {
  it('passes a run that fits in well under 70% of the free memory', () => {
    const verdict = checkRunMemory(config, { method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 128 }, 8 * GiB);
    expect(verdict.level).toBe('ok');
    expect(verdict.message).toBeUndefined();
    expect(verdict.estimate.totalBytes).toBeGreaterThan(config.parameters * 4);
  });

  it('counts weights, activations (batch × seq × layers × width) and optimizer state for the method', () => {
    const small = checkRunMemory(config, { method: 'lora', methodOptions: lora, batchSize: 2, maxLength: 64 }, 8 * GiB).estimate;
    const wide = checkRunMemory(config, { method: 'lora', methodOptions: lora, batchSize: 4, maxLength: 64 }, 8 * GiB).estimate;
    const wider = checkRunMemory(config, { method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 64 }, 8 * GiB).estimate;
    // Linear in the batch (on top of the embedding table the lookup's gradient keeps).
    expect(wider.activationsBytes - wide.activationsBytes).toBeCloseTo(2 * (wide.activationsBytes - small.activationsBytes), 0);
    expect(wide.activationsBytes).toBeGreaterThan(1.5 * small.activationsBytes);
    expect(wide.weightsBytes).toBe(small.weightsBytes);
    const fullRun = checkRunMemory(config, { method: 'full', methodOptions: full, batchSize: 2, maxLength: 64 }, 8 * GiB);
    expect(fullRun.estimate.optimizerBytes).toBe(2 * fullRun.trainableParams * 4);
    expect(fullRun.estimate.optimizerBytes).toBeGreaterThan(10 * small.optimizerBytes);
  });

  it('warns above 70% of the free memory and refuses above it, saying what to change', () => {
    const shape = { method: 'lora' as const, methodOptions: lora, batchSize: 64, maxLength: 2048 };
    const need = checkRunMemory(config, shape, 1e15).estimate.totalBytes;
    const warn = checkRunMemory(config, shape, need / 0.8);
    expect(warn.level).toBe('warn');
    expect(warn.message).toMatch(/more than 70% of the/);
    const refuse = checkRunMemory(config, shape, need / 2);
    expect(refuse.level).toBe('refuse');
    expect(refuse.message).toMatch(/needs about [\d.]+ [MG]iB .* but only [\d.]+ [MG]iB is free/);
    expect(refuse.message).toMatch(/lower batchSize to \d+/);
    expect(refuse.message).toMatch(/lower maxLength to \d+/);
    expect(WARN_FRACTION).toBe(0.7);
  });

  it('suggests LoRA instead of full fine-tuning when only that fits', () => {
    const shape = { method: 'full' as const, methodOptions: full, batchSize: 1, maxLength: 16 };
    const need = checkRunMemory(config, shape, 1e15).estimate;
    const loraNeed = checkRunMemory(config, { ...shape, method: 'lora', methodOptions: lora }, 1e15).estimate.totalBytes;
    const budget = (loraNeed / WARN_FRACTION + need.totalBytes) / 2;
    const verdict = checkRunMemory(config, shape, budget);
    expect(verdict.level).toBe('refuse');
    expect(verdict.message).toMatch(/train LoRA instead of full fine-tuning/);
  });

  it('refuses before any tensor is allocated, as an out_of_memory ApiError naming the field', async () => {
    const before = tf.memory().numTensors;
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(1024 * 1024);
    try {
      await guardRunMemory(FIXTURE_MODEL, { method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 256 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('out_of_memory');
      expect((err as ApiError).field).toBe('batchSize');
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the training job refuses an oversized run before loading the model, and warns near the limit', async () => {
    const data = join(tmp, 'data.jsonl');
    writeFileSync(data, classificationJsonl(12));
    const home = join(tmp, 'home');
    const spec = { home, model: FIXTURE_MODEL, data, method: 'lora' as const, steps: 1, seed: 1, set: { batchSize: '4', maxLength: '32', evalEvery: '0' } };
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(1024 * 1024);
    try {
      await expect(runTrainJob(spec, { recorder: new RunsStore(home) })).rejects.toMatchObject({
        code: 'out_of_memory',
        message: expect.stringMatching(/needs about [\d.]+ MiB .* but only 1\.0 MiB is free; /),
      });
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
    }
    expect(new RunsStore(home).list()).toEqual([]);
    const need = checkRunMemory(config, { method: 'lora', methodOptions: lora, batchSize: 4, maxLength: 32 }, 1e15).estimate.totalBytes;
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(Math.ceil(need / 0.85));
    const logs: string[] = [];
    let backend: string | undefined;
    try {
      const result = await runTrainJob(spec, { recorder: new RunsStore(home), log: (m) => logs.push(m) });
      expect(result.status).toBe('finished');
      backend = result.backend;
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
    }
    // On wasm (a machine without the native backend) the budget is the heap, and the warning says so first.
    const warning =
      backend === 'wasm'
        ? /^memory: on the wasm backend \(4 GiB heap, the weights kept in two layouts\): this run needs about .* more than 70% of the [\d.]+ [MG]iB free; .*, or install the native backend \(@tensorflow\/tfjs-node\)$/
        : /^memory: this run needs about .* more than 70% of the [\d.]+ [MG]iB free; /;
    expect(logs.filter((m) => m.startsWith('memory:'))).toEqual([expect.stringMatching(warning)]);
  });

  it('judges a run by its longest training example, not by a maxLength its short examples never reach', async () => {
    const data = join(tmp, 'short.jsonl');
    writeFileSync(data, classificationJsonl(12));
    const home = join(tmp, 'home-short');
    const spec = { home, model: FIXTURE_MODEL, data, method: 'lora' as const, steps: 1, seed: 1, set: { batchSize: '4', maxLength: '1024', evalEvery: '0' } };
    const shape = { method: 'lora' as const, methodOptions: lora, batchSize: 4, recompute: 'off' as const };
    const atMaxLength = checkRunMemory(config, { ...shape, maxLength: 1024 }, 1e15).estimate.totalBytes;
    const atShort = checkRunMemory(config, { ...shape, maxLength: 64 }, 1e15).estimate.totalBytes;
    // A budget that refuses 4 × 1,024 tokens outright but leaves room for 4 × 64 (these examples are shorter).
    const budget = Math.floor(atMaxLength / 2);
    expect(atShort / budget).toBeLessThan(WARN_FRACTION);
    expect(checkRunMemory(config, { ...shape, maxLength: 1024 }, budget).level).toBe('refuse');
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(budget);
    const logs: string[] = [];
    try {
      const result = await runTrainJob({ ...spec, set: { ...spec.set, recompute: 'off' } }, { recorder: new RunsStore(home), log: (m) => logs.push(m) });
      expect(result.status).toBe('finished');
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
    }
    expect(logs.filter((m) => m.startsWith('memory:'))).toEqual([]);
  });

  it('a non-finite loss stops the run with the step in the manifest', async () => {
    const data = join(tmp, 'nan.jsonl');
    writeFileSync(data, classificationJsonl(12));
    const home = join(tmp, 'home-nan');
    // A learning rate of 1e30 without clipping sends the weights to Inf after the first update.
    const result = await runTrainJob(
      {
        home,
        model: FIXTURE_MODEL,
        data,
        method: 'lora',
        steps: 6,
        seed: 1,
        lr: 1e30,
        set: { batchSize: '4', maxLength: '32', evalEvery: '0', clipNorm: '0', warmupSteps: '0', schedule: 'constant' },
      },
      { recorder: new RunsStore(home) },
    );
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(/^step \d+: (loss|gradient norm) is NaN\/Inf/);
    const manifest = new RunsStore(home).read(result.runId);
    expect(manifest.status).toBe('failed');
    expect(manifest.reason).toBe(result.reason);
  });
});

describe('resource guard on the wasm backend', () => {
  it('budgets by the 4 GiB wasm heap, not the machine: SmolLM2-135M trains at batch 8 × 128 and is refused at 8 × 256 with a batch that fits', () => {
    // Measured (docs/performance/memory-release-wasm-smollm2-t128.json): since blocks and the backward pass free what
    // they no longer need, the 8 × 128 step peaks at 3.0 GiB of tensors and runs; at 8 × 256 it aborts the module.
    const smollm = parseLlamaConfig(PUBLISHED_SHAPES['smollm-135m'], 'config.json');
    const bigMachine = 64 * GiB;
    const shape = { method: 'lora' as const, methodOptions: lora, batchSize: 8, maxLength: 256, weightCopies: 2 as const };
    expect(memoryBudget(bigMachine, 'tensorflow')).toBe(bigMachine);
    expect(checkRunMemory(smollm, shape, memoryBudget(bigMachine, 'tensorflow')).level).toBe('ok');
    const onWasm = checkRunMemory(smollm, shape, memoryBudget(bigMachine, 'wasm'));
    expect(onWasm.level).toBe('refuse');
    expect(onWasm.message).toMatch(/lower batchSize to [24]\b/);
    expect(checkRunMemory(smollm, { ...shape, maxLength: 128 }, memoryBudget(bigMachine, 'wasm')).level).not.toBe('refuse');
    expect(checkRunMemory(smollm, { ...shape, batchSize: 2 }, memoryBudget(bigMachine, 'wasm')).level).toBe('ok');
  });

  it('does not refuse the GPT-2-small shape at batch 8 × 64, which trains on wasm (peak 2.5 GiB of tensors)', () => {
    const gpt2 = parseGpt2Config(PUBLISHED_SHAPES['gpt2-small'], 'config.json');
    const verdict = checkRunMemory(gpt2, { method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 64, weightCopies: 2 }, memoryBudget(64 * GiB, 'wasm'));
    expect(verdict.level).not.toBe('refuse');
  });

  it('the guard counts the weights twice on wasm, which keeps each frozen matrix in both layouts', async () => {
    const verdict = await guardRunMemory(FIXTURE_MODEL, { method: 'lora', methodOptions: lora, batchSize: 1, maxLength: 16 }, undefined, 'wasm');
    const untiedTable = config.tiedEmbeddings ? 0 : config.vocabSize * config.hidden; // read by lookup, never transposed
    expect(verdict.estimate.weightsBytes).toBe((2 * config.parameters - untiedTable) * 4);
    const onCpu = await guardRunMemory(FIXTURE_MODEL, { method: 'lora', methodOptions: lora, batchSize: 1, maxLength: 16 }, undefined, 'cpu');
    expect(onCpu.estimate.weightsBytes).toBe(config.parameters * 4);
  });
});
