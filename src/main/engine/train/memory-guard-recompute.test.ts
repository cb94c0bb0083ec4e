// The memory guard and activation recomputation: the estimate knows the need with and without it; recompute
// 'auto' turns it on only when the run would not fit otherwise; when neither fits, one line says both needs and
// what to change.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir } from '../test-paths';
import { getMethod } from '../methods/registry';
import { architectureFor } from '../models/architectures';
import { writeSafetensors } from '../io/safetensors';
import { parseLlamaConfig } from '../models/llama';
import { PUBLISHED_SHAPES } from '../models/published-shapes';
import { checkRunMemory, estimateRun, guardRunMemory, memoryBudget, WARN_FRACTION, type RunShape } from './memory-guard';

const FIXTURE_MODEL = join(fixturesDir, 'llama-gqa');

// bench/shapes.ts's tiny-4x256.
const config = parseLlamaConfig(PUBLISHED_SHAPES['tiny-4x256'], 'tiny-4x256');
const lora = getMethod('lora').options.parse({}) as Record<string, unknown>;
const shape: RunShape = { method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 1024 };

describe('memory guard with activation recomputation', () => {
  const plain = estimateRun(config, shape, false).estimate.totalBytes;
  const recomputed = estimateRun(config, shape, true).estimate.totalBytes;

  it('estimates less with recomputation (activations of one block, not four)', () => {
    // Measured at this shape (native, 2026-12-05): 1,179 MiB of peak tensors with recomputation, 2,073 without.
    expect(recomputed).toBeLessThan(0.7 * plain);
    expect(estimateRun(config, { ...shape, recompute: 'on' }).estimate.totalBytes).toBe(recomputed);
    expect(estimateRun(config, { ...shape, recompute: 'auto' }).estimate.totalBytes).toBe(plain);
  });

  it('auto: recomputes when the run would not fit without and fits with it, and says so', () => {
    const budget = (plain + recomputed / WARN_FRACTION) / 2; // recomputed fits under 70%, plain is over 100%
    expect(checkRunMemory(config, { ...shape, recompute: 'off' }, budget).level).toBe('refuse');
    const verdict = checkRunMemory(config, { ...shape, recompute: 'auto' }, budget);
    expect(verdict).toMatchObject({ level: 'ok', recompute: true });
    expect(verdict.estimate.totalBytes).toBe(recomputed);
    expect(verdict.note).toMatch(
      /^recomputing each block's activations in the backward pass: the run needs about [\d.]+ [MG]iB with it, [\d.]+ [MG]iB without, and [\d.]+ [MG]iB is free$/,
    );
  });

  it('auto: no recomputation when the run fits without it (even near the limit)', () => {
    expect(checkRunMemory(config, { ...shape, recompute: 'auto' }, plain * 10)).toMatchObject({ level: 'ok', recompute: false });
    expect(checkRunMemory(config, { ...shape, recompute: 'auto' }, plain / 0.85)).toMatchObject({ level: 'warn', recompute: false });
    expect(checkRunMemory(config, { ...shape, recompute: 'on' }, plain * 10)).toMatchObject({ level: 'ok', recompute: true });
  });

  it('refuses with one line naming both needs and what to change when neither fits', () => {
    const verdict = checkRunMemory(config, { ...shape, recompute: 'auto' }, recomputed * 0.9);
    expect(verdict.level).toBe('refuse');
    expect(verdict.message).not.toMatch(/\n/);
    expect(verdict.message).toMatch(
      /^this run needs about [\d.]+ [MG]iB \(.*\) but only [\d.]+ [MG]iB is free; even recomputing activations in the backward pass it needs about [\d.]+ [MG]iB; lower batchSize to \d+/,
    );
  });

  it('wasm: tiny-4x256 at T = 1024, batch 16 is refused without recomputation and runs with it (auto)', () => {
    // Batch 8 now fits wasm's heap without recomputation (blocks free their temporaries; the backward frees
    // what it has used): 2,073 MiB of peak tensors on native.
    const budget = memoryBudget(64 * 2 ** 30, 'wasm');
    expect(checkRunMemory(config, { ...shape, weightCopies: 2, recompute: 'off' }, budget).level).not.toBe('refuse');
    const onWasm = { ...shape, batchSize: 16, weightCopies: 2 as const };
    expect(checkRunMemory(config, { ...onWasm, recompute: 'off' }, budget).level).toBe('refuse');
    expect(checkRunMemory(config, { ...onWasm, recompute: 'auto' }, budget)).toMatchObject({ recompute: true });
    expect(checkRunMemory(config, { ...onWasm, recompute: 'auto' }, budget).level).not.toBe('refuse');
  });

  it('guardRunMemory logs the note and returns the choice', async () => {
    // The fixture's config with 24 layers: over the fixture's two, recomputing one block at a time would not save
    // what it costs (the guard's estimate says so too).
    const model = mkdtempSync(join(tmpdir(), 'prefixlab-guard-'));
    cpSync(FIXTURE_MODEL, model, { recursive: true });
    const fixtureConfig = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
    const deeper = { ...fixtureConfig, num_hidden_layers: 24 };
    writeFileSync(join(model, 'config.json'), JSON.stringify(deeper));
    const spec = architectureFor('llama')!;
    const tensors = [...spec.weightShapes(spec.parseConfig(deeper, 'config.json'))].map(([name, shape]) => [
      name,
      { dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) },
    ]);
    writeSafetensors(join(model, 'model.safetensors'), Object.fromEntries(tensors));
    const shapeOf = (recompute: RunShape['recompute']): RunShape => ({ method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 1024, recompute });
    const header = await import('../io/load-model').then((m) => m.readModelHeader(model));
    const need = estimateRun(header.config, shapeOf('off'), false).estimate.totalBytes;
    const withIt = estimateRun(header.config, shapeOf('off'), true).estimate.totalBytes;
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(Math.floor((need + withIt / WARN_FRACTION) / 2));
    try {
      expect(withIt / WARN_FRACTION).toBeLessThan(need);
      const logs: string[] = [];
      const verdict = await guardRunMemory(model, shapeOf('auto'), (line) => logs.push(line));
      expect(verdict.recompute).toBe(true);
      expect(logs).toEqual([expect.stringMatching(/^memory: recomputing each block's activations/)]);
      await expect(guardRunMemory(model, shapeOf('off'))).rejects.toMatchObject({ code: 'out_of_memory' });
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
      rmSync(model, { recursive: true, force: true });
    }
  });
});
