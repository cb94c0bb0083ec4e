// The memory guard and activation recomputation: the estimate knows the need with and without it; recompute
// 'auto' turns it on only when the run would not fit otherwise; when neither fits, one line says both needs and
// what to change.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixturesDir } from '../test-paths';
import { getMethod } from '../methods/registry';
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
    expect(recomputed).toBeLessThan(0.5 * plain);
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

  it('wasm: tiny-4x256 at T = 1024, batch 8 is refused without recomputation and runs with it (auto)', () => {
    const budget = memoryBudget(64 * 2 ** 30, 'wasm');
    const onWasm = { ...shape, weightCopies: 2 as const };
    expect(checkRunMemory(config, { ...onWasm, recompute: 'off' }, budget).level).toBe('refuse');
    expect(checkRunMemory(config, { ...onWasm, recompute: 'auto' }, budget)).toMatchObject({ recompute: true });
    expect(checkRunMemory(config, { ...onWasm, recompute: 'auto' }, budget).level).not.toBe('refuse');
  });

  it('guardRunMemory logs the note and returns the choice', async () => {
    const shapeOf = (recompute: RunShape['recompute']): RunShape => ({ method: 'lora', methodOptions: lora, batchSize: 8, maxLength: 256, recompute });
    const header = await import('../io/load-model').then((m) => m.readModelHeader(FIXTURE_MODEL));
    const need = estimateRun(header.config, shapeOf('off'), false).estimate.totalBytes;
    const withIt = estimateRun(header.config, shapeOf('off'), true).estimate.totalBytes;
    process.env.PREFIXLAB_MEMORY_BUDGET_BYTES = String(Math.floor((need + withIt / WARN_FRACTION) / 2));
    try {
      expect(withIt / WARN_FRACTION).toBeLessThan(need);
      const logs: string[] = [];
      const verdict = await guardRunMemory(FIXTURE_MODEL, shapeOf('auto'), (line) => logs.push(line));
      expect(verdict.recompute).toBe(true);
      expect(logs).toEqual([expect.stringMatching(/^memory: recomputing each block's activations/)]);
      await expect(guardRunMemory(FIXTURE_MODEL, shapeOf('off'))).rejects.toMatchObject({ code: 'out_of_memory' });
    } finally {
      delete process.env.PREFIXLAB_MEMORY_BUDGET_BYTES;
    }
  });
});
