// The llama.cpp check's thresholds go by the least precise matrix type of the base, not by the type holding the
// most values: Gemma-3-270M Q4_K_M is mostly Q8_0 (its embedding) but computes its blocks in 4–6 bits.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectGguf } from '../../engine/io/gguf/gguf-model';
import { modelCache, realModels } from '../../engine/test-paths';
import { GGUF_CHECK_THRESHOLDS, thresholdsFor } from '../llama-cpp-check';
import { checkPrecisionType } from './check-precision';

const t = (type: string, shape: number[]) => ({ type, shape });

describe('checkPrecisionType', () => {
  it('the least precise matrix type; 1-D tensors (F32 norms) do not count', () => {
    expect(checkPrecisionType({ tensors: [t('F32', [64]), t('F32', [64, 64])] })).toBe('F32');
    expect(checkPrecisionType({ tensors: [t('F32', [64]), t('F16', [64, 64]), t('Q8_0', [64, 64])] })).toBe('Q8_0');
    expect(checkPrecisionType({ tensors: [t('F32', [64]), t('F16', [64, 64])] })).toBe('F16');
    // Most values in an 8-bit embedding, the blocks in 4 bits: low-bit.
    expect(checkPrecisionType({ tensors: [t('Q8_0', [640, 262144]), t('Q4_K', [640, 1024]), t('Q6_K', [2048, 640]), t('F32', [640])] })).toBe('Q4_K');
    expect(thresholdsFor(checkPrecisionType({ tensors: [t('Q8_0', [640, 262144]), t('Q5_0', [640, 256])] }))).toEqual(GGUF_CHECK_THRESHOLDS['low-bit']);
  });

  const GEMMA = join(modelCache, realModels.gemma3.file);
  it.skipIf(!existsSync(GEMMA))(`Gemma-3-270M Q4_K_M: mostly Q8_0, checked as low-bit${existsSync(GEMMA) ? '' : ` (skipped: ${GEMMA} not cached)`}`, async () => {
    const info = await inspectGguf(GEMMA);
    expect(info.mainType).toBe('Q8_0');
    expect(thresholdsFor(checkPrecisionType(info.file))).toEqual(GGUF_CHECK_THRESHOLDS['low-bit']);
  });
});
