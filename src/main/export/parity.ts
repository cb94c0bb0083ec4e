// The reload check every export ends with: logits of the in-app model (base + adapter from the registry) and
// of what was written (read back into our engine) on a few fixed inputs must agree within 1e-4. parity.json
// keeps the inputs and our logits so other runtimes (the Python interop tests, a user's own check) can
// compare against them.
import type { ModelConfig } from '../engine/models/causal-lm';
import { Rng } from '../platform/rng';

export const PARITY_FILE = 'parity.json';
export const PARITY_TOLERANCE = 1e-4;
/** Above this many values parity.json keeps only each input's last position. */
const MAX_STORED_VALUES = 600_000;

export interface ParityReport {
  maxAbsDiff: number;
  /** Token ids of each input (equal lengths). */
  inputs: number[][];
  ok: boolean;
}

/**
 * Fixed pseudo-random inputs (3 sequences × up to 8 tokens) inside the vocabulary, leaving room for
 * `virtualTokens` extra positions within the model's context.
 */
export function parityInputs(config: ModelConfig, virtualTokens = 0): number[][] {
  const seqLen = Math.max(1, Math.min(8, config.maxPositions - virtualTokens));
  // The one seeded generator: the same ids on every platform and run.
  const rng = Rng.fromSeed(0x2545f491);
  return Array.from({ length: 3 }, () => Array.from({ length: seqLen }, () => rng.int(config.vocabSize)));
}

export function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i].length !== b[i].length) return Infinity;
    for (let j = 0; j < a[i].length; j++) {
      const d = Math.abs(a[i][j] - b[i][j]);
      if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
    }
  }
  return worst;
}

export interface ParityFile {
  version: 1;
  format: string;
  method: string;
  architecture: string;
  baseModel: string;
  /** Prompt Tuning's p: PEFT's logits include these virtual positions first (ours do not). */
  virtualTokens: number;
  inputs: number[][];
  /** 'all': logits[i][t][v] for every position; 'last': logits[i][0][v] of the last position only. */
  positions: 'all' | 'last';
  /** [inputs, positions, vocab] */
  logits: number[][][];
  maxAbsDiff: number;
  tolerance: number;
}

export function parityFile(fields: Omit<ParityFile, 'version' | 'positions' | 'logits' | 'tolerance'>, logits: Float32Array[], vocabSize: number): ParityFile {
  const seqLen = fields.inputs[0].length;
  const isAll = logits.length * seqLen * vocabSize <= MAX_STORED_VALUES;
  const rows = logits.map((flat) => {
    const positions: number[][] = [];
    for (let t = isAll ? 0 : seqLen - 1; t < seqLen; t++) positions.push(Array.from(flat.subarray(t * vocabSize, (t + 1) * vocabSize)));
    return positions;
  });
  return { version: 1, ...fields, positions: isAll ? 'all' : 'last', logits: rows, tolerance: PARITY_TOLERANCE };
}
