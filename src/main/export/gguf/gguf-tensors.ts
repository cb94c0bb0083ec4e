// A merged model's Hugging Face weights → the GGUF tensors llama.cpp's converter (convert_hf_to_gguf.py) would
// write for them: the inverse of the loader's map (gguf-model.ts inspectGguf().sources): llama.cpp's names,
// GGUF's reversed shapes, and the layouts redone (llama Q/K row permutation, GPT-2 Conv1D transpose, GPT-NeoX
// QKV regroup, Gemma's norms stored plus one). Types follow the converter's prepare_tensors: 1-D tensors,
// `*_norm.weight`, biases and position_embd stay F32; the rest is F16 or Q8_0, falling back to F16 where
// Q8_0's 32-value blocks do not divide a row (the converter's QuantError fallback).
import { ApiError } from '@shared/errors';
import { ggufShapeOf, toGgufRowOrder, transpose, type GgufWeightSource } from '../../engine/io/gguf/gguf-layout';
import { GGML_TYPE_OF, encodeTensor, type QuantType } from './quantize';

export type GgufTensorType = 'F32' | 'F16' | 'Q8_0';

export interface GgufOutTensor {
  name: string;
  /** GGUF order: ne0 first. */
  shape: number[];
  type: GgufTensorType;
  data: Uint8Array;
}

/** The type the converter gives tensor `name` of GGUF shape `shape` for --outtype `quant`. */
export function ggufTensorType(name: string, shape: number[], quant: QuantType): GgufTensorType {
  if (shape.length <= 1 || name.endsWith('_norm.weight') || !name.endsWith('.weight') || name === 'position_embd.weight') return 'F32';
  const type = GGML_TYPE_OF[quant];
  return type === 'Q8_0' && shape[0] % 32 !== 0 ? 'F16' : type;
}

/** HF weight values → the tensor data the converter writes (the inverse of gguf-layout.ts toHfLayout). */
export function toGgufLayout(source: GgufWeightSource, data: Float32Array, hfShape: number[]): Float32Array {
  if (source.transpose) return transpose(data, hfShape[0], data.length / hfShape[0]);
  return toGgufRowOrder(source, data, hfShape.length > 1 ? data.length / hfShape[0] : 1);
}

/** What the loader knows of the base file: its architecture and each HF weight's GGUF source and HF shape. */
export interface GgufTensorMap {
  /** general.architecture of the base file (gemma3 stores norms plus one). */
  architecture: string;
  sources: Map<string, GgufWeightSource>;
  shapes: Map<string, number[]>;
}

/** Where HF weight `name` goes: its GGUF tensor name, GGUF shape and type (no data touched). */
export function planGgufTensor(map: GgufTensorMap, name: string, quant: QuantType): { name: string; shape: number[]; type: GgufTensorType } {
  const source = map.sources.get(name);
  const hfShape = map.shapes.get(name);
  if (!source || !hfShape) throw new ApiError('internal', `no GGUF tensor is mapped for weight ${name}`, { field: name });
  const shape = ggufShapeOf(source, hfShape);
  return { name: source.tensor, shape, type: ggufTensorType(source.tensor, shape, quant) };
}

/**
 * HF weight `name`'s values (HF layout) in the converter's GGUF layout, as float32. Refuses, naming the weight,
 * values of the wrong size or a value that is not finite (NaN/inf would load in llama.cpp and produce garbage).
 */
export function ggufLayoutValues(map: GgufTensorMap, name: string, values: Float32Array | undefined): Float32Array {
  const hfShape = map.shapes.get(name)!;
  const count = hfShape.reduce((a, b) => a * b, 1);
  if (!values || values.length !== count) {
    throw new ApiError('internal', `weight ${name} has ${values?.length ?? 'no'} values, expected ${count} for shape [${hfShape.join(', ')}]`, { field: name });
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new ApiError('bad_state', `weight ${name} holds a non-finite value (${values[i]}) at index ${i}; a model with NaN or infinite weights cannot be exported`, {
        field: name,
      });
    }
  }
  // Gemma3RMSNorm scales by 1 + w; the converter stores w + 1 (the loader subtracts it again).
  const hf = map.architecture === 'gemma3' && name.endsWith('norm.weight') ? values.map((w) => w + 1) : values;
  return toGgufLayout(map.sources.get(name)!, hf, hfShape);
}

/** HF weight `name`'s values (HF layout) as its GGUF tensor (ggufLayoutValues' refusals, and one beyond F16). */
export function encodeGgufTensor(map: GgufTensorMap, name: string, values: Float32Array | undefined, quant: QuantType): GgufOutTensor {
  const plan = planGgufTensor(map, name, quant);
  const data = ggufLayoutValues(map, name, values);
  const encoded = encodeTensor(plan.type, data);
  // f16 overflows to inf beyond ±65504 (a tensor's values, or a Q8_0 block's scale max|x|/127).
  const halves = plan.type === 'F16' ? new Uint16Array(encoded.buffer, encoded.byteOffset, encoded.byteLength / 2) : null;
  const overflow = halves ? halves.findIndex((b) => (b & 0x7c00) === 0x7c00) : plan.type === 'Q8_0' ? firstOverflowingQ8Block(encoded) : -1;
  if (overflow >= 0) {
    const at = halves ? overflow : overflow * 32;
    const hint = plan.type === 'F16' ? '; export with --quant q8_0' : '';
    throw new ApiError('unsupported', `weight ${name} holds ${data[at]}${halves ? '' : ' (in a 32-value block)'}, beyond ${plan.type}'s range${hint}`, { field: name });
  }
  return { ...plan, data: encoded };
}

/** Index of the first Q8_0 block whose f16 scale is infinite, or -1. */
function firstOverflowingQ8Block(bytes: Uint8Array): number {
  for (let b = 0; b * 34 < bytes.length; b++) if ((bytes[b * 34 + 1] & 0x7c) === 0x7c) return b;
  return -1;
}

/** Every HF weight in `map` as its GGUF tensor, from `weights` (HF name → float32 values in the HF layout). */
export function ggufTensorsOf(map: GgufTensorMap, weights: (name: string) => Float32Array | undefined, quant: QuantType): GgufOutTensor[] {
  return [...map.shapes.keys()].map((name) => encodeGgufTensor(map, name, weights(name), quant));
}
