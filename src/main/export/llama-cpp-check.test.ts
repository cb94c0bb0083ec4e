// The llama.cpp check's comparison and thresholds (the runs against llama.cpp itself are in
// gguf/gguf-lora-export.test.ts and gguf/gguf-lora-smollm2.test.ts).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatApiError, type ApiError } from '@shared/errors';
import { repoRoot } from '../engine/test-paths';
import { GGUF_CHECK_THRESHOLDS, compareLogProbs, llamaCppCheck, logSoftmaxRows, thresholdsFor } from './llama-cpp-check';

describe('llama.cpp check', () => {
  it('log-softmax per position of flattened logits', () => {
    const [a, b] = logSoftmaxRows(new Float32Array([0, 0, 1, 3]), 2);
    expect(a[0]).toBeCloseTo(Math.log(0.5), 6);
    expect(b[1]).toBeCloseTo(-Math.log(1 + Math.exp(-2)), 6);
  });

  it('top-1 agreement and max |Δ log p| over every position; a NaN or missing probability fails', () => {
    const row = (...v: number[]): Float32Array => Float32Array.from(v);
    const ours = [[row(-0.1, -2.5, -5), row(-3, -0.05, -9)]];
    const theirs = [[row(-0.2, -2.3, -5.5), row(-0.05, -3, -9)]];
    expect(compareLogProbs(ours, theirs)).toEqual({ positions: 2, top1Agreement: 0.5, maxAbsLogProbDiff: expect.closeTo(2.95, 5) });
    expect(compareLogProbs(ours, [[row(-0.1, NaN, -5), ours[0][1]]]).maxAbsLogProbDiff).toBe(Infinity);
    expect(compareLogProbs(ours, [[row(-0.1, -2.5, -Infinity), ours[0][1]]]).maxAbsLogProbDiff).toBe(Infinity);
  });

  it('thresholds follow how the base stores most values', () => {
    expect(thresholdsFor('F32')).toBe(GGUF_CHECK_THRESHOLDS.f32);
    for (const t of ['F16', 'BF16', 'Q8_0']) expect(thresholdsFor(t)).toBe(GGUF_CHECK_THRESHOLDS['8-bit']);
    for (const t of ['Q4_1', 'Q4_K', 'Q6_K']) expect(thresholdsFor(t)).toBe(GGUF_CHECK_THRESHOLDS['low-bit']);
  });

  it('gives up after its time limit with one line naming the file, instead of leaving the export waiting', async () => {
    const model = join(repoRoot, 'tests', 'fixtures', 'gguf', 'tiny', 'qwen2.gguf');
    const err = await llamaCppCheck({ model, inputs: [[1, 2, 3]], ourLogits: [new Float32Array(3 * 448)], vocabSize: 448, timeLimitMs: 1 }).catch((e: unknown) => e);
    expect((err as ApiError).code).toBe('timeout');
    expect(formatApiError((err as ApiError).toJSON())).toMatch(/qwen2\.gguf.*llama\.cpp did not finish checking qwen2\.gguf within 1 ms; the export was not written$/);
  });
});
