// Autoregressive decoding with a KV cache: one prefill over the (left-padded) prompts, then one token per
// step. Greedy or seeded sampling, eos ids and stop strings, a per-token callback for streaming.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { CausalLM } from './models/causal-lm';
import type { ModelHooks } from './models/hooks';
import { KVCache } from './models/kv-cache';
import { createRng, pickToken } from './sampling';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Argmax decoding. Default: greedy unless a temperature > 0 is given. */
  greedy?: boolean;
  /** Softmax temperature when sampling (default 1). */
  temperature?: number;
  /** 0 = off. */
  topK?: number;
  /** 1 = off. */
  topP?: number;
  /** 1 = off. */
  repetitionPenalty?: number;
  /** Seed of the sampling generator (default 0), so runs repeat exactly. */
  seed?: number;
  /** Ids that end a row (not included in its output). */
  eosTokenIds?: number[];
  /** Texts that end a row; needs `decode`. The matching text stays in the ids; cut it from decoded text. */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** Id used for left padding in a batch (default 0; always masked out). */
  padTokenId?: number;
  hooks?: ModelHooks;
  /** Called for every generated token as soon as it is chosen (streaming). */
  onToken?: (token: { row: number; id: number; step: number }) => void;
  signal?: AbortSignal;
}

export type FinishReason = 'eos' | 'stop_string' | 'length';

export interface GenerateResult {
  /** Generated ids per prompt (the ending eos id excluded). */
  ids: number[][];
  finishReasons: FinishReason[];
  elapsedMs: number;
}

/** Generates continuations of `prompts` (token ids, each non-empty). */
export async function generate(model: CausalLM, prompts: number[][], opts: GenerateOptions): Promise<GenerateResult> {
  if (prompts.length === 0 || prompts.some((p) => p.length === 0)) throw new ApiError('invalid_argument', 'every prompt needs at least one token');
  const vocabSize = model.config.vocabSize;
  for (const prompt of prompts) {
    const bad = prompt.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new ApiError('invalid_argument', `token id ${bad} is outside the vocabulary (0..${vocabSize - 1})`, { field: 'promptIds' });
  }
  if (opts.stopStrings?.length && !opts.decode) throw new ApiError('invalid_argument', 'stopStrings need a decode function');
  const started = performance.now();
  const batchSize = prompts.length;
  const promptLen = Math.max(...prompts.map((p) => p.length));
  // Decoding past the trained context gives garbage (and GPT-2 cannot embed the position at all).
  const maxNewTokens = Math.max(0, Math.min(opts.maxNewTokens, model.config.maxPositions - promptLen));
  const sampling = {
    isGreedy: opts.greedy ?? !(opts.temperature !== undefined && opts.temperature > 0),
    temperature: opts.temperature ?? 1,
    topK: opts.topK ?? 0,
    topP: opts.topP ?? 1,
    repetitionPenalty: opts.repetitionPenalty ?? 1,
  };
  const rng = createRng(opts.seed ?? 0);
  const eos = new Set(opts.eosTokenIds ?? []);

  const outputs: number[][] = prompts.map(() => []);
  const finishReasons: (FinishReason | null)[] = prompts.map(() => null);
  const cache = new KVCache(model.config.layers);
  let logits: tf.Tensor3D | undefined;
  try {
    // Prefill: left-pad so every row's last prompt token sits in the final column.
    const isPadded = prompts.some((p) => p.length < promptLen);
    const padId = opts.padTokenId ?? 0;
    const padded = prompts.map((p) => [...new Array(promptLen - p.length).fill(padId), ...p]);
    logits = tf.tidy(() => {
      const inputIds = tf.tensor2d(padded, [batchSize, promptLen], 'int32'); // [B, T]
      // [B, T]: 0 over each prompt's left padding
      const attentionMask = isPadded
        ? tf.tensor2d(
            prompts.map((p) => padded[0].map((_, j) => (j < promptLen - p.length ? 0 : 1))),
            [batchSize, promptLen],
            'int32',
          )
        : undefined;
      return model.forward(inputIds, { cache, attentionMask, hooks: opts.hooks, logits: 'last' }); // [B, 1, V]
    });
    for (let step = 0; step < maxNewTokens; step++) {
      const scores = (await logits.data()) as Float32Array; // B·V
      logits.dispose();
      const next: number[] = [];
      for (let row = 0; row < batchSize; row++) {
        if (finishReasons[row]) {
          next.push(padId);
          continue;
        }
        const id = pickToken(scores.subarray(row * vocabSize, (row + 1) * vocabSize), [...prompts[row], ...outputs[row]], sampling, rng);
        next.push(id);
        if (eos.has(id)) {
          finishReasons[row] = 'eos';
          continue;
        }
        outputs[row].push(id);
        opts.onToken?.({ row, id, step });
        if (opts.stopStrings?.length && opts.decode) {
          const text = opts.decode(outputs[row]);
          if (opts.stopStrings.some((s) => s && text.includes(s))) finishReasons[row] = 'stop_string';
        }
      }
      if (finishReasons.every((r) => r !== null) || step === maxNewTokens - 1) break;
      // Give queued work (a cancel request, other calls) a turn between tokens.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.signal?.aborted) throw new ApiError('cancelled', 'generation was cancelled');
      logits = tf.tidy(() => {
        const inputIds = tf.tensor2d(next, [batchSize, 1], 'int32'); // [B, 1]
        return model.forward(inputIds, { cache, hooks: opts.hooks, logits: 'last' }); // [B, 1, V]
      });
    }
  } finally {
    logits?.dispose(); // no-op when already disposed
    cache.dispose();
  }
  return { ids: outputs, finishReasons: finishReasons.map((r) => r ?? 'length'), elapsedMs: performance.now() - started };
}
