// Refuses a training run that cannot fit in memory, before anything is loaded: weights, the trained values
// with their gradients and AdamW moments, and the activations a step keeps for batch × sequence × layers ×
// width (the same estimate methods.estimate shows). Above the free memory it refuses; above 70% of it it
// warns. Either way the message says what to change. With recompute 'auto' a run that would be refused is
// judged again with activation recomputation (block-recompute.ts) and runs with it when that fits.
import { freemem } from 'node:os';
import { ApiError } from '@shared/errors';
import type { MemoryEstimate } from '@shared/contract/calls/methods';
import { estimateMemory } from './memory-estimate';
import { detectFormat, readModelHeader } from '../io/load-model';
import { compactWeightsOf, type CompactWeights } from '../io/gguf/compact-weights';
import { inspectGguf } from '../io/gguf/gguf-model';
import { WASM_HEAP_LIMIT_BYTES, type BackendName } from '../backend';
import type { MethodName } from '../methods/method';
import { getMethod } from '../methods/registry';
import type { ModelConfig } from '../models/causal-lm';
import { keepsTransposedWeights } from '../models/ops';

/**
 * wasm heap bytes per byte of live tensors at a training step's peak (allocator slack). Since the fused head
 * loss, the SmolLM-135M shape's LoRA step at batch 8 × 64 peaks at 3.57 GiB of tensors (both weight layouts
 * counted) and runs inside the 4 GiB heap, so at most 1.15 there; at 8 × 128 it aborts the module (training
 * benchmark, wasm, 2026-12-04). 1.1 puts the budget where aborts begin, so a run near the edge is warned
 * about rather than refused.
 */
const WASM_HEAP_PER_TENSOR_BYTE = 1.1;

/** Share of the free memory above which a run is allowed but warned about. */
export const WARN_FRACTION = 0.7;

export interface RunShape {
  method: MethodName;
  /** Method options, defaults filled. */
  methodOptions: Record<string, unknown>;
  /** Rows per batch (with batchTokens: the rows the token budget allows at maxLength, at least 1). */
  batchSize: number;
  batchTokens?: number | null;
  /** Longest example in tokens. */
  maxLength: number;
  /** The trainer's recompute option (absent: 'off'). */
  recompute?: 'auto' | 'on' | 'off';
  /** Copies the backend keeps of each frozen weight matrix (memory-estimate.ts; absent: 1). */
  weightCopies?: 1 | 2;
  /** Longest target in tokens: the positions the loss scores per row (absent: all of them). */
  scoredPerRow?: number;
  /** Whether a GGUF base keeps its quantized matrices compact (trainer option quantizedBase, resolved). */
  quantizedBase?: boolean;
  /** What such a base keeps compact (guardRunMemory reads it from the file's header). */
  compact?: CompactWeights;
}

export interface MemoryVerdict {
  level: 'ok' | 'warn' | 'refuse';
  estimate: MemoryEstimate;
  trainableParams: number;
  /** Memory this process may still use (the cgroup limit counts where Node can see it). */
  availableBytes: number;
  /** One line: the need, the budget and what to change (absent when ok). */
  message?: string;
  /** Whether the run recomputes activations ('on', or 'auto' when it would not fit otherwise). */
  recompute: boolean;
  /** One line when 'auto' turned recomputation on. */
  note?: string;
}

/** Bytes this process can still allocate: cgroup-aware where Node supports it, else the OS's free memory. */
export function availableMemoryBytes(): number {
  const fromProcess = (process as { availableMemory?: () => number }).availableMemory?.();
  return typeof fromProcess === 'number' && fromProcess > 0 ? Math.min(fromProcess, Number.MAX_SAFE_INTEGER) : freemem();
}

/** Bytes as MiB below 1 GiB, else GiB, one decimal (the guard's and dataParallel's messages). */
export const gib = (bytes: number): string => (bytes < 2 ** 30 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 30).toFixed(1)} GiB`);

/** Rows one batch holds at most: batchSize, or what batchTokens allows at the longest length. */
function rowsPerBatch(shape: RunShape): number {
  if (shape.batchTokens) return Math.max(1, Math.floor(shape.batchTokens / shape.maxLength));
  return shape.batchSize;
}

/** Whether the shape's recompute option lets the run recompute activations. */
function mayRecompute(shape: RunShape): boolean {
  return shape.recompute === 'on' || shape.recompute === 'auto';
}

/** The estimate for a shape on a config (no allocation), with or without activation recomputation. */
export function estimateRun(config: ModelConfig, shape: RunShape, recompute = shape.recompute === 'on'): { estimate: MemoryEstimate; trainableParams: number } {
  const trainableParams = getMethod(shape.method).countParameters(config, shape.methodOptions as never);
  // The trainer never runs sequences longer than the model's context.
  const maxLength = Math.min(shape.maxLength, config.maxPositions);
  const estimate = estimateMemory(config, trainableParams, shape.method, shape.methodOptions, rowsPerBatch({ ...shape, maxLength }), maxLength, {
    recompute,
    weightCopies: shape.weightCopies,
    scoredPerRow: shape.scoredPerRow,
    compact: shape.compact,
  });
  return { estimate, trainableParams };
}

/**
 * Judges a run against `availableBytes` (default: what this process can use now). recompute 'auto': a run that
 * would be refused is judged with recomputation, which it then uses when that fits (verdict.recompute, note).
 */
export function checkRunMemory(config: ModelConfig, shape: RunShape, availableBytes = availableMemoryBytes()): MemoryVerdict {
  const plain = judgeRun(config, shape, availableBytes, shape.recompute === 'on');
  if (shape.recompute !== 'auto' || plain.level !== 'refuse') return plain;
  const recomputed = judgeRun(config, shape, availableBytes, true);
  if (recomputed.level === 'refuse') {
    // Neither fits: one line, the need without recomputation first, then with it, then what to change.
    const advised = recomputed.message!.slice(recomputed.message!.indexOf('; ') + 2);
    const head = plain.message!.slice(0, plain.message!.indexOf('; '));
    return { ...plain, message: `${head}; even recomputing activations in the backward pass it needs about ${gib(recomputed.estimate.totalBytes)}; ${advised}` };
  }
  recomputed.note = `recomputing each block's activations in the backward pass: the run needs about ${gib(recomputed.estimate.totalBytes)} with it, ${gib(plain.estimate.totalBytes)} without, and ${gib(availableBytes)} is free`;
  return recomputed;
}

function judgeRun(config: ModelConfig, shape: RunShape, availableBytes: number, recompute: boolean): MemoryVerdict {
  const { estimate, trainableParams } = estimateRun(config, shape, recompute);
  const need = estimate.totalBytes;
  const verdict: MemoryVerdict = { level: 'ok', estimate, trainableParams, availableBytes, recompute };
  if (Number.isFinite(need) && need <= WARN_FRACTION * availableBytes) return verdict;
  verdict.level = Number.isFinite(need) && need <= availableBytes ? 'warn' : 'refuse';
  const parts = `weights ${gib(estimate.weightsBytes)}, activations ${gib(estimate.activationsBytes)} for ${rowsPerBatch(shape)} × ${shape.maxLength} tokens × ${config.layers} layers × width ${config.hidden}, trained values + gradients + AdamW ${gib(estimate.trainableBytes + estimate.gradientBytes + estimate.optimizerBytes)}`;
  const head =
    verdict.level === 'refuse'
      ? `this run needs about ${gib(need)} (${parts}) but only ${gib(availableBytes)} is free`
      : `this run needs about ${gib(need)} (${parts}), more than ${Math.round(WARN_FRACTION * 100)}% of the ${gib(availableBytes)} free`;
  verdict.message = `${head}; ${advice(config, shape, availableBytes * WARN_FRACTION)}`;
  return verdict;
}

/** What would bring the run under `budget`: a smaller batch, shorter examples, or LoRA instead of full. */
function advice(config: ModelConfig, shape: RunShape, budget: number): string {
  const tips: string[] = [];
  const fits = (s: RunShape): boolean => estimateRun(config, s, mayRecompute(s)).estimate.totalBytes <= budget;
  const rows = rowsPerBatch(shape);
  if (shape.batchTokens) {
    for (let tokens = Math.floor(shape.batchTokens / 2); tokens >= shape.maxLength; tokens = Math.floor(tokens / 2)) {
      if (fits({ ...shape, batchTokens: tokens })) {
        tips.push(`lower batchTokens to ${tokens}`);
        break;
      }
    }
  } else {
    for (let batch = Math.floor(rows / 2); batch >= 1; batch = Math.floor(batch / 2)) {
      if (fits({ ...shape, batchSize: batch })) {
        tips.push(`lower batchSize to ${batch}`);
        break;
      }
      if (batch === 1) break;
    }
  }
  for (let length = Math.floor(shape.maxLength / 2); length >= 16; length = Math.floor(length / 2)) {
    if (fits({ ...shape, maxLength: length })) {
      tips.push(`lower maxLength to ${length}`);
      break;
    }
  }
  if (shape.method === 'full' && fits({ ...shape, method: 'lora', methodOptions: getMethod('lora').options.parse({}) as Record<string, unknown> })) {
    tips.push('train LoRA instead of full fine-tuning');
  }
  if (tips.length === 0)
    return `even batchSize 1 at a short maxLength does not fit: the model's weights alone need ${gib(config.parameters * 4)}; use a smaller model or a machine with more memory`;
  return tips.join(', or ');
}

/** The machine's free memory for runs: PREFIXLAB_MEMORY_BUDGET_BYTES when set (tests), else availableMemoryBytes(). */
export function freeMemoryBytes(): number {
  const budget = Number(process.env.PREFIXLAB_MEMORY_BUDGET_BYTES);
  return Number.isFinite(budget) && budget > 0 ? budget : availableMemoryBytes();
}

/**
 * Bytes of tensors a run may use on `backend` with `free` bytes free. The wasm backend's heap can never pass
 * 4 GiB whatever the machine has (past it a step aborts the module), and the heap runs above the peak of live
 * tensors. (The weights' transposed copies are in the estimate: weightCopiesOn.)
 */
export function memoryBudget(free: number, backend?: BackendName): number {
  if (backend !== 'wasm') return free;
  return Math.min(free, WASM_HEAP_LIMIT_BYTES / WASM_HEAP_PER_TENSOR_BYTE);
}

/** Copies of each frozen weight matrix a model keeps on `backend` (ops.keepsTransposedWeights). */
export function weightCopiesOn(backend?: BackendName): 1 | 2 {
  return backend === 'wasm' || (backend === 'tensorflow' && keepsTransposedWeights()) ? 2 : 1;
}

/**
 * A model's config for the memory estimate and, for a GGUF base kept quantized, what stays compact: one read of the
 * header either way (the GGUF header gives both).
 */
export async function readBaseForEstimate(modelPath: string, quantizedBase: boolean): Promise<{ config: ModelConfig; compact?: CompactWeights }> {
  const gguf = quantizedBase && detectFormat(modelPath) === 'gguf' ? await inspectGguf(modelPath) : null;
  return gguf ? { config: gguf.config, compact: compactWeightsOf(gguf) } : { config: (await readModelHeader(modelPath)).config };
}

/**
 * Called by the training job before it loads anything: refuses (out_of_memory, naming the field to change)
 * or passes a warning to `warn`. PREFIXLAB_MEMORY_BUDGET_BYTES overrides the free memory (tests). Reads only
 * the model's header, of any format (a GGUF file's is read asynchronously); a GGUF base is counted as the
 * float32 weights it is dequantized to, or with shape.quantizedBase at the bytes it keeps compact.
 */
export async function guardRunMemory(modelPath: string, shape: RunShape, warn?: (message: string) => void, backend?: BackendName): Promise<MemoryVerdict> {
  const base = await readBaseForEstimate(modelPath, shape.quantizedBase === true);
  const config = base.config;
  const compact = base.compact ?? shape.compact;
  const free = freeMemoryBytes();
  const isWasm = backend === 'wasm';
  const verdict = checkRunMemory(config, { ...shape, compact, weightCopies: shape.weightCopies ?? weightCopiesOn(backend) }, memoryBudget(free, backend));
  if (isWasm && verdict.message)
    verdict.message = `on the wasm backend (4 GiB heap, the weights kept in two layouts): ${verdict.message}, or install the native backend (@tensorflow/tfjs-node)`;
  if (verdict.level === 'refuse') {
    const field = shape.method === 'full' && /LoRA/.test(verdict.message ?? '') ? 'method' : shape.batchTokens ? 'batchTokens' : 'batchSize';
    throw new ApiError('out_of_memory', verdict.message!, { field });
  }
  if (verdict.level === 'warn') warn?.(`memory: ${verdict.message}`);
  if (verdict.note) warn?.(`memory: ${verdict.note}`);
  return verdict;
}
