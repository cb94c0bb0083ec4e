// The memory a training step needs, estimated from the model's config and the run's shape (no allocation):
// what methods.estimate shows and what the memory guard (memory-guard.ts) judges a run by.
import type { MemoryEstimate } from '@shared/contract/calls/methods';
import type { CompactWeights } from '../io/gguf/compact-weights';
import type { MethodName } from '../methods/method';
import { getMethod, virtualTokensOf } from '../methods/registry';
import type { Architecture, ModelConfig } from '../models/causal-lm';
import { ROW_CHUNK } from '../models/ops';

const FLOAT_BYTES = 4;

/**
 * One block's activations under a plain tfjs tape, over the saved set counted in `savedPerTokenPerLayer`: the tape
 * keeps what each kernel's gradient declares (more than a fused backward would read) and the block's
 * temporaries, and the backward allocates its transients on top. Fitted before the early release (below) over
 * T = 64 and 256 on random 4-layer shapes of width 512 (LoRA; PT+ and Prefix-Tuning too on Gemma 3): 3.0–3.4 for
 * Llama, Qwen3, GPT-NeoX and GPT-2 blocks; 3.9 for Phi-3, whose fused qkv and gate/up products are sliced; 4.7
 * for Gemma 3 (four norms per block, q/k norms), 4.8 on Gemma-3-270M itself. A recomputed block runs this way.
 */
const TAPE_OVERHEAD: Partial<Record<Architecture, number>> = { gemma3_text: 4.8, phi3: 3.9 };
const DEFAULT_TAPE_OVERHEAD = 3.3;

export const tapeOverheadOf = (architecture: Architecture): number => TAPE_OVERHEAD[architecture] ?? DEFAULT_TAPE_OVERHEAD;

/**
 * The same over every block of a step that does not recompute, now that each block's temporaries go when the
 * block ends (block-recompute.ts tidyBlock) and the backward pass frees what it has used (early-release-tape.ts):
 * the peak is about the saved sets plus one block's transients. Measured 2026-12-05 (bench --memory-only, native,
 * batch 8): 1.03–1.30 on SmolLM2-135M at T = 256 (Prompt, Prefix, LoRA, PT+) and 1.24–1.34 on tiny-4x256 at
 * T = 512 and 1,024; 1.81 (LoRA) and 2.11 (PT+) on Gemma-3-270M at T = 64. Rounded up, as the guard must not
 * undercount; Phi-3 keeps its old ratio to the default (not measured again).
 */
const SAVED_OVERHEAD: Partial<Record<Architecture, number>> = { gemma3_text: 2.2, phi3: 1.7 };
const DEFAULT_SAVED_OVERHEAD = 1.4;

const savedOverheadOf = (architecture: Architecture): number => SAVED_OVERHEAD[architecture] ?? DEFAULT_SAVED_OVERHEAD;

/** Floats a block saves per token for its backward: its input, norms, q/k/v, the attention output, MLP intermediates and scores/probabilities per head over the keys. */
function savedPerTokenPerLayer(config: ModelConfig, keys: number): number {
  const queryWidth = config.heads * config.headDim; // Gemma 3's is wider than D
  return 4 * config.hidden + 2 * queryWidth + 2 * config.kvHeads * config.headDim + 3 * config.intermediate + 2 * config.heads * keys;
}

/**
 * Whether the step's loss runs fused with a frozen LM head (models/head-loss.ts: no [N, V] logits), as the
 * forward decides it: not when the head is trained (full fine-tuning) or soft-capped (a Gemma 2-style config).
 */
export function fusesHeadLoss(config: ModelConfig, method: MethodName): boolean {
  if (getMethod(method).trainsBaseWeights) return false;
  const cap = (config as { finalLogitSoftcap?: number | null }).finalLogitSoftcap;
  return cap === undefined || cap === null;
}

/**
 * Floats the loss holds per scored position. Fused, the transients of one vocabulary chunk (its products, the
 * shifted logits and their exponentials), which the backward does not keep; otherwise the logits, their
 * softmax and gradient over the whole vocabulary, kept by the tape (so scaled by its overhead).
 */
function lossFloatsPerToken(config: ModelConfig, method: MethodName, tapeOverhead: number): number {
  return fusesHeadLoss(config, method) ? 3 * Math.min(config.vocabSize, ROW_CHUNK) : tapeOverhead * 3 * config.vocabSize;
}

export interface EstimateOptions {
  /** Activation recomputation (block-recompute.ts). */
  recompute?: boolean;
  /**
   * Copies the backend keeps of each frozen weight matrix: 2 where it keeps a transposed one beside it
   * (ops.keepsTransposedWeights: native TensorFlow on the CPU, and wasm), else 1.
   */
  weightCopies?: 1 | 2;
  /** Positions per row the loss scores (the longest target; default: every position, an upper bound). */
  scoredPerRow?: number;
  /** A quantized frozen base: the weights it keeps as file bytes (no float32 tensor, no transposed copy). */
  compact?: CompactWeights;
}

/**
 * Bytes a training step needs, roughly: frozen weights (with the backend's transposed copies; a quantized
 * base's compact matrices at their file bytes), the trained
 * values with their gradient and two AdamW moments, and the activations the backward pass keeps (the block's
 * saved set per token and layer scaled by an overhead, the embedding table the lookup's gradient
 * keeps, and the loss at the scored positions). Virtual tokens (prompt/prefix) lengthen the sequence or the keys.
 *
 * Without recomputation the saved sets of all blocks, scaled by SAVED_OVERHEAD. With `recompute`
 * (block-recompute.ts) the forward keeps only each block's input, and the backward pass holds one block's
 * activations at a time (under a plain tape: TAPE_OVERHEAD) plus the blocks' input gradients: 2·D per token and
 * layer, plus one layer's saved set and the loss.
 */
export function estimateMemory(
  config: ModelConfig,
  trainableParams: number,
  method: MethodName,
  options: Record<string, unknown>,
  batchSize: number,
  maxLength: number,
  { recompute = false, weightCopies = 1, scoredPerRow = maxLength, compact }: EstimateOptions = {},
): MemoryEstimate {
  const virtual = virtualTokensOf(method, options);
  const queries = maxLength + (virtual.placement === 'input' ? virtual.count : 0);
  const keys = queries + (virtual.placement === 'keys' ? virtual.count : 0);
  const overhead = tapeOverheadOf(config.architecture);
  const perLayer = savedPerTokenPerLayer(config, keys);
  const loss = lossFloatsPerToken(config, method, overhead);
  const tokens = batchSize * queries;
  const blocksFloats = recompute ? 2 * config.layers * config.hidden + overhead * perLayer : savedOverheadOf(config.architecture) * config.layers * perLayer;
  // The embedding lookup's gradient keeps the table it read (a tape clone), whatever is trained; a compact
  // table is read row by row instead.
  const embeddingFloats = compact?.embeddingTable ? 0 : config.vocabSize * config.hidden;
  // The forward computes logits only at the scored positions (the trainer's logitRows).
  const scored = batchSize * Math.min(scoredPerRow, maxLength);
  const activationsBytes = (tokens * blocksFloats + scored * loss + embeddingFloats) * FLOAT_BYTES;
  // Full fine-tuning turns the base weights themselves into the trained values: count them once. Only frozen
  // float32 matrices get a transposed copy, and an untied float32 embedding table (read by lookup) none.
  const frozenParams = getMethod(method).trainsBaseWeights ? config.parameters - trainableParams : config.parameters;
  const floatParams = Math.max(0, frozenParams - (compact?.params ?? 0));
  const floatTable = config.tiedEmbeddings || compact?.embeddingTable ? 0 : config.vocabSize * config.hidden;
  const copiedParams = weightCopies === 2 ? Math.max(0, floatParams - floatTable) : 0;
  const weightsBytes = (floatParams + copiedParams) * FLOAT_BYTES + (compact?.bytes ?? 0);
  const trainableBytes = trainableParams * FLOAT_BYTES;
  const gradientBytes = trainableParams * FLOAT_BYTES;
  const optimizerBytes = 2 * trainableParams * FLOAT_BYTES;
  return {
    weightsBytes,
    trainableBytes,
    gradientBytes,
    optimizerBytes,
    activationsBytes,
    totalBytes: weightsBytes + trainableBytes + gradientBytes + optimizerBytes + activationsBytes,
  };
}
