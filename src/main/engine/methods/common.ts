// Helpers every method file shares: unique variable names, PyTorch-style initialisers, the Hugging Face
// module path of each family's attention, and copying tensors into and out of StateDicts with checks.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { Architecture } from '../models/causal-lm';
import type { F32Source } from '../io/safetensors';
import type { StateDict } from './method';

let nextAdapterId = 0;

/** A scope like 'lora3/' that keeps tf.Variable names unique when several adapters live in one process. */
export function variableScope(method: string): string {
  return `${method}${nextAdapterId++}/`;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Hugging Face module path of layer `layer`'s attention block (where PT+ memories live in exports). */
export function attentionModulePath(architecture: Architecture, layer: number): string {
  switch (architecture) {
    case 'gpt2':
      return `transformer.h.${layer}.attn`;
    case 'gpt_neox':
      return `gpt_neox.layers.${layer}.attention`;
    default:
      return `model.layers.${layer}.self_attn`;
  }
}

export { EMBEDDING_WEIGHTS } from '../models/causal-lm';

/** Untied LM heads of every family. */
export const LM_HEAD_WEIGHTS: ReadonlySet<string> = new Set(['lm_head.weight', 'embed_out.weight']);

/** Name of the attention output projection (input: merged head outputs) in each family. */
export function attentionOutputProjection(architecture: Architecture, layer: number): string {
  switch (architecture) {
    case 'gpt2':
      return `transformer.h.${layer}.attn.c_proj`;
    case 'gpt_neox':
      return `gpt_neox.layers.${layer}.attention.dense`;
    default:
      return `model.layers.${layer}.self_attn.o_proj`;
  }
}

/** Layer indices an option selects: null = all; fails naming the bad index. */
export function selectLayers(layers: readonly number[] | null, numLayers: number, field = 'layers'): number[] {
  if (layers === null) return Array.from({ length: numLayers }, (_, i) => i);
  const chosen = [...new Set(layers)].sort((a, b) => a - b);
  for (const layer of chosen) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= numLayers) {
      throw new ApiError('invalid_argument', `layer ${layer} does not exist (the model has layers 0–${numLayers - 1})`, { field });
    }
  }
  if (chosen.length === 0) throw new ApiError('invalid_argument', 'choose at least one layer to adapt', { field });
  return chosen;
}

// ---- initialisers (PyTorch defaults, seeded) ----
// Seeds come from initSeed(run seed, method, tensor name) (../../platform/derive-seed), one independent stream per tensor.

/**
 * torch.nn.init.kaiming_uniform_(w, a=√5) on a weight [out, in], i.e. nn.Linear's default and PEFT's lora_A
 * init: U(−1/√in, 1/√in).
 */
export function kaimingUniform(shape: [number, number], seed: number): tf.Tensor2D {
  const bound = 1 / Math.sqrt(shape[1]);
  return tf.randomUniform(shape, -bound, bound, 'float32', seed); // [out, in]
}

/** nn.Linear's default bias init: U(−1/√fanIn, 1/√fanIn). */
export function linearBias(size: number, fanIn: number, seed: number): tf.Tensor1D {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform([size], -bound, bound, 'float32', seed); // [out]
}

// ---- state dicts ----

/** Copies tensors out (float32, row-major) under their names. */
export function toStateDict(entries: Iterable<[string, tf.Tensor]>): StateDict {
  const state: StateDict = {};
  for (const [name, tensor] of entries) {
    state[name] = { shape: [...tensor.shape], data: Float32Array.from(tensor.dataSync() as Float32Array) };
  }
  return state;
}

/** toStateDict's tensors, each copied out only when read (for writers that go one tensor at a time). */
export function toStateSources(entries: Iterable<[string, tf.Tensor]>): Record<string, F32Source> {
  const sources: Record<string, F32Source> = {};
  for (const [name, tensor] of entries) sources[name] = { shape: [...tensor.shape], read: () => tensor.dataSync() as Float32Array };
  return sources;
}

/**
 * Assigns `state` into `targets` after checking every name and shape first, so a bad dict changes nothing.
 * Throws ApiError('invalid_argument') naming the tensor on a missing key, an unknown key or a wrong shape.
 */
export function assignStateDict(state: StateDict, targets: ReadonlyMap<string, tf.Variable>, method: string): void {
  for (const [name, variable] of targets) {
    const entry = state[name];
    if (!entry) throw new ApiError('invalid_argument', `${method} state is missing tensor ${name}`, { field: name });
    checkEntry(name, entry, variable.shape, method);
  }
  for (const name of Object.keys(state)) {
    if (!targets.has(name)) {
      throw new ApiError('invalid_argument', `${method} state has unexpected tensor ${name} (expected: ${[...targets.keys()].join(', ')})`, { field: name });
    }
  }
  for (const [name, variable] of targets) {
    const entry = state[name];
    tf.tidy(() => variable.assign(tf.tensor(entry.data, entry.shape, 'float32')));
  }
}

export function checkEntry(name: string, entry: StateDict[string], expected: readonly number[], method: string): void {
  const sameShape = entry.shape.length === expected.length && entry.shape.every((d, i) => d === expected[i]);
  if (!sameShape) {
    throw new ApiError('invalid_argument', `${method} tensor ${name} has shape [${entry.shape.join(', ')}], expected [${expected.join(', ')}]`, { field: name });
  }
  if (entry.data.length !== numel(expected)) {
    throw new ApiError('invalid_argument', `${method} tensor ${name} holds ${entry.data.length} values, shape [${expected.join(', ')}] needs ${numel(expected)}`, { field: name });
  }
}

export function countVariables(variables: readonly tf.Variable[]): number {
  return variables.reduce((sum, v) => sum + v.size, 0);
}

// ---- export configs read back ----

/** config[name] when `check` accepts it; else ApiError('bad_file') naming the file and the field. */
export function configField<T>(config: Record<string, unknown>, name: string, check: (v: unknown) => boolean, file: string): T {
  const value = config[name];
  if (!check(value)) throw new ApiError('bad_file', `${name} is ${JSON.stringify(value)}`, { file, field: name });
  return value as T;
}

export const isPositiveInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
