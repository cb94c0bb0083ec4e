// The memory a training step needs, estimated from the model's config and the run's shape (no allocation):
// what methods.estimate shows and what the memory guard (memory-guard.ts) judges a run by.
import type { MemoryEstimate } from '@shared/contract/calls/methods';
import type { MethodName } from '../methods/method';
import { getMethod, virtualTokensOf } from '../methods/registry';
import type { ModelConfig } from '../models/causal-lm';

const FLOAT_BYTES = 4;

/**
 * tfjs's tape keeps what each kernel's gradient declares (more than a fused backward would read) until the
 * backward pass ends, and the backward allocates its transients on top: peak tensor memory measured in the
 * training benchmark is 2.7× (GPT-2-small shape) to 3.7× (tiny-4x256, SmolLM-135M shapes) the set above.
 */
const TAPE_OVERHEAD = 3.2;

/**
 * Bytes a training step needs, roughly: frozen weights, the trained values with their gradient and two AdamW
 * moments, and the activations the backward pass keeps. Activations per token and layer: the block's inputs,
 * norms, q/k/v, attention output and MLP intermediates (≈ 6·D + 3·I + 2·H_kv·d), plus scores and
 * probabilities per head over the keys; then the logits and their gradient. Virtual tokens (prompt/prefix)
 * lengthen the sequence or the keys. That saved set is scaled by TAPE_OVERHEAD (above).
 *
 * With `recompute` (block-recompute.ts) the forward keeps only each block's input, and the backward pass holds
 * one block's activations at a time plus each block's input gradient until it ends: 2·D per token and layer,
 * plus one layer's saved set and the logits, scaled as above.
 */
export function estimateMemory(
  config: ModelConfig,
  trainableParams: number,
  method: MethodName,
  options: Record<string, unknown>,
  batchSize: number,
  maxLength: number,
  recompute = false,
): MemoryEstimate {
  const virtual = virtualTokensOf(method, options);
  const queries = maxLength + (virtual.placement === 'input' ? virtual.count : 0);
  const keys = queries + (virtual.placement === 'keys' ? virtual.count : 0);
  const perTokenPerLayer = 6 * config.hidden + 3 * config.intermediate + 2 * config.kvHeads * config.headDim + 2 * config.heads * keys;
  const activationsBytes = recompute
    ? batchSize * queries * (2 * config.layers * config.hidden + TAPE_OVERHEAD * (perTokenPerLayer + 3 * config.vocabSize)) * FLOAT_BYTES
    : TAPE_OVERHEAD * batchSize * queries * (config.layers * perTokenPerLayer + 3 * config.vocabSize) * FLOAT_BYTES;
  // Full fine-tuning turns the base weights themselves into the trained values: count them once.
  const weightsBytes = getMethod(method).trainsBaseWeights ? (config.parameters - trainableParams) * FLOAT_BYTES : config.parameters * FLOAT_BYTES;
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
