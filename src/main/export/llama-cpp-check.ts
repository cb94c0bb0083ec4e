// The check every GGUF export ends with, by llama.cpp itself: node-llama-cpp (3.21.1, its prebuilt CPU binary;
// never built or downloaded) loads the base GGUF with the exported adapter, and its next-token distribution at
// every position of the parity inputs is compared with our engine's (the in-app model: base + adapter). Two
// numbers: top-1 agreement (share of positions whose most likely token is the same) and max |Δ log p| over
// the vocabulary. llama.cpp computes with the quantised weights (and rounds activations for quantised
// products) where our engine dequantises to float32, so the thresholds come from measurement
// (docs/export.md): GGUF_CHECK_THRESHOLDS.
import { basename } from 'node:path';
import type { Token } from 'node-llama-cpp';
import { ApiError } from '@shared/errors';

/** The longest a check may take (SmolLM2-135M: about 20 s on 2 cores); past it the export is refused, never left waiting. */
export const LLAMA_CPP_CHECK_TIME_LIMIT_MS = 10 * 60_000;

export interface LlamaCppCheckThresholds {
  /** Minimum share of positions with the same most likely token. */
  minTop1Agreement: number;
  /** Maximum |Δ log p| over the vocabulary at any position. */
  maxAbsLogProbDiff: number;
}

/**
 * By how the base stores most of its values (GgufModelInfo.mainType), from measurements with room (docs/export.md:
 * 24 positions, random and trained LoRAs): F32 (tiny F32 fixtures: top-1 100%, max |Δ log p| ≤ 2.7e-3, the GELU
 * models' F16 lookup table); 8-bit and F16 (tiny Q8_0 fixtures: top-1 ≥ 92%, ≤ 0.47; F16 not measured, held to
 * Q8_0's); fewer bits (SmolLM2-135M-Instruct Q4_1, trained, untrained and random LoRAs: top-1 ≥ 83%, ≤ 3.06: 4-bit
 * rounding of weights and activations moves log p about as much as a small adapter, so only gross errors show;
 * Gemma-3-270M Q4_K_M, the same 2 training steps in two builds whose losses differ by float32 rounding only: 3.52,
 * then 4.23 at top-1 96%, so the bound is 5, not 4: a max over 262,144 tail log-probabilities moves that much with
 * the adapter's last bits). A wrong row order measured top-1 29%, |Δ log p| 4.0 on tiny gptneox (F32), which
 * the F32 bounds refuse; on SmolLM2 Q4_1 it measured top-1 96%, 4.76, which the low-bit bounds now let through.
 */
export const GGUF_CHECK_THRESHOLDS = {
  f32: { minTop1Agreement: 0.95, maxAbsLogProbDiff: 0.05 },
  '8-bit': { minTop1Agreement: 0.75, maxAbsLogProbDiff: 1.5 },
  'low-bit': { minTop1Agreement: 0.75, maxAbsLogProbDiff: 5 },
} as const satisfies Record<string, LlamaCppCheckThresholds>;

/** The thresholds for a base GGUF whose values are mostly of GGML type `mainType`. */
export function thresholdsFor(mainType: string): LlamaCppCheckThresholds {
  if (mainType === 'F32') return GGUF_CHECK_THRESHOLDS.f32;
  if (mainType === 'F16' || mainType === 'BF16' || mainType === 'Q8_0') return GGUF_CHECK_THRESHOLDS['8-bit'];
  return GGUF_CHECK_THRESHOLDS['low-bit'];
}

export interface LlamaCppCheck {
  runtime: string;
  /** Positions compared (inputs × positions). */
  positions: number;
  top1Agreement: number;
  maxAbsLogProbDiff: number;
  thresholds: LlamaCppCheckThresholds;
  ok: boolean;
}

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp').getLlama>>;
let llamaPromise: Promise<Llama> | undefined;

/** node-llama-cpp or its prebuilt binary cannot load on this machine (the check is then recorded as skipped). */
export class LlamaCppUnavailable extends Error {}

/** node-llama-cpp's CPU runtime, loaded once per process, lazily (the app pays for it only on a GGUF export). */
async function llamaCpp(): Promise<Llama> {
  llamaPromise ??= (async () => {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    return getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 2 });
  })();
  try {
    return await llamaPromise;
  } catch (err) {
    llamaPromise = undefined;
    throw new LlamaCppUnavailable(`llama.cpp (node-llama-cpp) cannot run here: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
  }
}

/**
 * llama.cpp's log-probabilities of the next token at every position of each input: [input][position] →
 * Float32Array over the vocabulary (the model's own vocabulary size).
 */
export async function llamaCppLogProbs(opts: { model: string; adapter?: string; inputs: number[][]; vocabSize: number }): Promise<Float32Array[][]> {
  const llama = await llamaCpp();
  const model = await llama.loadModel({ modelPath: opts.model });
  try {
    const seqLen = Math.max(...opts.inputs.map((i) => i.length));
    // F32 keys/values: llama.cpp's default F16 cache alone moves log-probabilities by ~5e-3.
    const context = await model.createContext({
      contextSize: Math.max(64, seqLen),
      batchSize: Math.max(64, seqLen),
      sequences: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
      ...(opts.adapter ? { lora: { adapters: [{ filePath: opts.adapter }] } } : {}),
    });
    try {
      const sequence = context.getSequence();
      try {
        const out: Float32Array[][] = [];
        for (const ids of opts.inputs) {
          await sequence.clearHistory();
          const evaluated = await sequence.controlledEvaluate(ids.map((id) => [id as Token, { generateNext: { probabilities: true } }] as const));
          out.push(
            evaluated.map((o) => {
              const logp = new Float32Array(opts.vocabSize).fill(-Infinity);
              for (const [token, p] of o!.next.probabilities!) if (token < opts.vocabSize) logp[token] = Math.log(p);
              return logp;
            }),
          );
        }
        return out;
      } finally {
        sequence.dispose();
      }
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** log-softmax of each row of `logits` ([positions · vocab] flattened). */
export function logSoftmaxRows(logits: Float32Array, vocabSize: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let t = 0; t < logits.length / vocabSize; t++) {
    const row = logits.subarray(t * vocabSize, (t + 1) * vocabSize);
    let max = -Infinity;
    for (const v of row) if (v > max) max = v;
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    rows.push(Float32Array.from(row, (v) => v - lse));
  }
  return rows;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Compares two sets of per-position log-probabilities ([input][position][vocab]). */
export function compareLogProbs(ours: Float32Array[][], theirs: Float32Array[][]): { positions: number; top1Agreement: number; maxAbsLogProbDiff: number } {
  let positions = 0;
  let agree = 0;
  let worst = 0;
  ours.forEach((rows, i) =>
    rows.forEach((row, t) => {
      const other = theirs[i][t];
      positions++;
      if (argmax(row) === argmax(other)) agree++;
      for (let v = 0; v < row.length; v++) {
        const d = Math.abs(row[v] - other[v]);
        if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
      }
    }),
  );
  return { positions, top1Agreement: positions ? agree / positions : 0, maxAbsLogProbDiff: worst };
}

/**
 * Runs llama.cpp on `model` (+ `adapter`) over `inputs` and compares with our engine's logits for the same
 * inputs (`ourLogits[i]`: [positions · vocab], as logitsOf returns them).
 */
export async function llamaCppCheck(opts: {
  model: string;
  adapter?: string;
  inputs: number[][];
  ourLogits: Float32Array[];
  vocabSize: number;
  /** Default: the loosest set ('low-bit'); pass thresholdsFor(the base's mainType). */
  thresholds?: LlamaCppCheckThresholds;
  /** Default LLAMA_CPP_CHECK_TIME_LIMIT_MS. */
  timeLimitMs?: number;
}): Promise<LlamaCppCheck> {
  const thresholds = opts.thresholds ?? GGUF_CHECK_THRESHOLDS['low-bit'];
  const limit = opts.timeLimitMs ?? LLAMA_CPP_CHECK_TIME_LIMIT_MS;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const what = `llama.cpp did not finish checking ${basename(opts.adapter ?? opts.model)} within ${limit % 60_000 === 0 ? `${limit / 60_000} min` : `${limit} ms`}; the export was not written`;
      reject(new ApiError('timeout', what, { file: opts.adapter ?? opts.model }));
    }, limit);
  });
  // On expiry llama.cpp's own work runs on in its threads and frees its model when done; the export stops here.
  const theirs = await Promise.race([llamaCppLogProbs(opts), expired]).finally(() => clearTimeout(timer));
  const ours = opts.ourLogits.map((l) => logSoftmaxRows(l, opts.vocabSize));
  const measured = compareLogProbs(ours, theirs);
  const ok = measured.top1Agreement >= thresholds.minTop1Agreement && measured.maxAbsLogProbDiff <= thresholds.maxAbsLogProbDiff;
  return { runtime: 'llama.cpp (node-llama-cpp 3.21.1, CPU)', ...measured, thresholds, ok };
}
