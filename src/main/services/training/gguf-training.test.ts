// Training on a GGUF base (issue 17): SmolLM2-135M-Instruct from its Q4_1 GGUF file (dequantized to float32,
// frozen) through the real CLI path: `methods.estimate`'s service and the memory guard read its header,
// `prefixlab compare` trains all five methods a few steps (each run in its own training process, as the app
// runs them), every run finishes with a finite loss and becomes an adapter listed against the GGUF file, and
// the LoRA exports in PEFT format with its reload parity. Kept cheap for 2 cores on wasm: 8 short rows, batch 1,
// 32 tokens, 2 steps. Skipped, with a message, where the model cache is absent (python3
// scripts/models/fetch-models.py fetches it).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompareResult } from '@shared/contract/training';
import { cli } from '../../cli/cli-harness';
import { guardRunMemory } from '../../engine/train/memory-guard';
import { keepsTransposedWeights } from '../../engine/models/ops';
import { getMethod } from '../../engine/methods/registry';
import { estimateMethod } from '../method-service';
import { modelCache, realModels } from '../../engine/test-paths';

const CACHE = modelCache;
const MODEL = join(CACHE, realModels.smollm2.file);
const SIZE = realModels.smollm2.size; // the pinned file (scripts/models/fetch-models.py checks its sha256)
const PARAMETERS = 134_515_008; // `model inspect` on the file (gguf-smollm2.test.ts)
const present = existsSync(MODEL) && statSync(MODEL).size === SIZE;
if (!present) console.warn(`skipping training on a GGUF base: SmolLM2-135M-Instruct.Q4_1.gguf is not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

const METHODS = ['ptplus', 'lora', 'prefix', 'prompt', 'full'] as const;

let home: string;
let data: string;
let out: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-train-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-export-'));
  data = join(out, 'sentiment.jsonl');
  const rows = [
    'I loved this film.',
    'What a waste of time.',
    'A warm, funny story.',
    'Dull and far too long.',
    'The cast is wonderful.',
    'I want my money back.',
    'Sweet and clever.',
    'Flat and lifeless.',
  ];
  writeFileSync(data, rows.map((text, i) => JSON.stringify({ text, label: i % 2 === 0 ? 'positive' : 'negative' })).join('\n') + '\n');
});

afterAll(() => {
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!present)('training on a GGUF base (SmolLM2-135M-Instruct Q4_1)', () => {
  it('methods.estimate and the memory guard read the GGUF header, counting the base as the run holds it', async () => {
    const lora = getMethod('lora').options.parse({}) as Record<string, unknown>;
    const full = getMethod('full').options.parse({}) as Record<string, unknown>;
    const estimate = await estimateMethod(MODEL, 'lora', {}, 1, 32, 'off');
    expect(estimate.baseParams).toBe(PARAMETERS);
    expect(estimate.trainableParams).toBeGreaterThan(0);
    // Tied embeddings: every frozen matrix, the table included, gets a transposed copy where the backend keeps one.
    expect(estimate.memory.weightsBytes).toBe(PARAMETERS * 4 * (keepsTransposedWeights() ? 2 : 1));
    // By default (quantizedBase auto) a frozen-base method keeps the Q4_1 blocks; full fine-tuning needs float32.
    const byDefault = await estimateMethod(MODEL, 'lora', {}, 1, 32);
    expect(byDefault.trainableParams).toBe(estimate.trainableParams);
    expect(byDefault.memory.weightsBytes).toBeLessThan(PARAMETERS);
    expect(await estimateMethod(MODEL, 'full', {}, 1, 32)).toEqual(await estimateMethod(MODEL, 'full', {}, 1, 32, 'off'));
    await expect(estimateMethod(MODEL, 'full', {}, 1, 32, 'on')).rejects.toThrow("quantizedBase on: method full trains the base's weights, which need float32; use auto or off");

    const verdict = await guardRunMemory(MODEL, { method: 'lora', methodOptions: lora, batchSize: 1, maxLength: 32 }, undefined, 'cpu');
    expect(verdict.estimate.weightsBytes).toBe(PARAMETERS * 4);
    // With the quantized base the Q4_1 blocks are counted at their bytes (about 0.7 bytes per parameter here).
    const compact = await guardRunMemory(MODEL, { method: 'lora', methodOptions: lora, batchSize: 1, maxLength: 32, quantizedBase: true }, undefined, 'cpu');
    expect(compact.estimate.weightsBytes).toBeLessThan(PARAMETERS);
    expect(compact.estimate.weightsBytes).toBeGreaterThan(PARAMETERS / 2);
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(64 * 2 ** 20);
    try {
      await expect(guardRunMemory(MODEL, { method: 'full', methodOptions: full, batchSize: 1, maxLength: 32 })).rejects.toMatchObject({ code: 'out_of_memory' });
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
    }
  });

  it('prefixlab compare trains all five methods on the GGUF file; each run is an adapter listed against it; the LoRA exports as PEFT', async () => {
    const args = ['compare', '--model', MODEL, '--data', data, '--methods', METHODS.join(','), '--seeds', '1', '--steps', '2', '--eval-split', '2'];
    const trainer = ['batchSize=1', 'maxLength=32', 'warmupSteps=0', 'evalEvery=0', 'maxEvalExamples=2', 'evalBatchSize=2'];
    const { code, stdout, stderr } = await cli([...args, ...trainer.flatMap((s) => ['--set', s]), '--home', home, '--out', join(out, 'compare.json'), '--json']);
    expect(stderr).not.toMatch(/failed:|Error/);
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as CompareResult;
    expect(result.rows.map((r) => [r.method, r.failedRuns])).toEqual(METHODS.map((m) => [m, 0]));
    expect(result.runs.map((r) => r.method)).toEqual([...METHODS]);
    for (const run of result.runs) {
      expect(run.status, run.method).toBe('finished');
      expect(run.steps, run.method).toBe(2);
      expect(Number.isFinite(run.final.trainLoss), `${run.method} train loss ${run.final.trainLoss}`).toBe(true);
      expect(Number.isFinite(run.final.evalLoss), `${run.method} eval loss ${run.final.evalLoss}`).toBe(true);
      expect(run.adapterId, run.method).toBeTruthy();
    }

    const runs = await cli(['runs', 'list', '--model', MODEL, '--home', home, '--json']);
    expect(runs.code).toBe(0);
    const listedRuns = (JSON.parse(runs.stdout) as { runs: { id: string; modelPath: string; status: string }[] }).runs;
    expect(listedRuns.map((r) => r.id).sort()).toEqual(result.runs.map((r) => r.runId).sort());
    expect(listedRuns.every((r) => r.modelPath === MODEL && r.status === 'finished')).toBe(true);

    const adapters = await cli(['adapters', 'list', '--home', home, '--json']);
    expect(adapters.code).toBe(0);
    const listed = (JSON.parse(adapters.stdout) as { adapters: { id: string; method: string; modelPath: string; architecture: string }[] }).adapters;
    expect(listed.map((a) => a.id).sort()).toEqual(result.runs.map((r) => r.adapterId).sort());
    expect(listed.every((a) => a.modelPath === MODEL && a.architecture === 'llama')).toBe(true);

    // The adapter's record names the GGUF file and its format; the PEFT export reloads with parity.
    const loraId = result.runs.find((r) => r.method === 'lora')!.adapterId!;
    const shown = await cli(['adapters', 'show', loraId, '--home', home, '--json']);
    expect(shown.code).toBe(0);
    expect((JSON.parse(shown.stdout) as { manifest: { baseModel: unknown } }).manifest.baseModel).toMatchObject({ path: MODEL, format: 'gguf', architecture: 'llama' });
    const peftDir = join(out, 'lora-peft');
    const exported = await cli(['export', loraId, '--format', 'peft', '--out', peftDir, '--home', home, '--json']);
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ format: 'peft', parity: { ok: true } });
    const config = JSON.parse(readFileSync(join(peftDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', base_model_name_or_path: MODEL });
  }, 900_000);
});
