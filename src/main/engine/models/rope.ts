// Rotary position embedding in Hugging Face's rotate-half layout: frequencies (with rope_scaling
// 'linear', 'dynamic' and 'llama3'), cos/sin tables for given positions, and partial rotary (first dims only).
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { ConfigFields } from './config-fields';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMaxPositions: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface RopeConfig {
  theta: number;
  /** Leading dims of each head that rotate (head_dim unless partial rotary). Even. */
  rotaryDim: number;
  scaling: RopeScaling | null;
}

/** Reads rope_scaling from a config; unsupported types fail naming the field. */
export function parseRopeScaling(fields: ConfigFields, maxPositions: number): RopeScaling | null {
  const raw = fields.raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (!raw) return null;
  const type = String(raw.rope_type ?? raw.type ?? 'default');
  const factor = Number(raw.factor ?? 1);
  const fail = (why: string): never => {
    throw new ApiError('unsupported', `rope_scaling ${why}`, { file: fields.file, field: 'rope_scaling' });
  };
  if (type === 'default') return null;
  if (!Number.isFinite(factor) || factor <= 0) fail(`factor must be a positive number, got ${JSON.stringify(raw.factor)}`);
  switch (type) {
    case 'linear':
      return { type, factor };
    case 'dynamic':
      return { type, factor, originalMaxPositions: Number(raw.original_max_position_embeddings ?? maxPositions) };
    case 'llama3':
      return {
        type,
        factor,
        lowFreqFactor: Number(raw.low_freq_factor ?? 1),
        highFreqFactor: Number(raw.high_freq_factor ?? 4),
        originalMaxPositions: Number(raw.original_max_position_embeddings ?? 8192),
      };
    default:
      return fail(`type '${type}' is not supported (supported: linear, dynamic, llama3)`);
  }
}

/** Inverse frequencies [rotaryDim / 2] for a sequence of `seqLen` positions (only 'dynamic' depends on it). */
export function inverseFrequencies(rope: RopeConfig, seqLen: number): Float32Array {
  const dim = rope.rotaryDim;
  const scaling = rope.scaling;
  let base = rope.theta;
  if (scaling?.type === 'dynamic' && seqLen > scaling.originalMaxPositions) {
    // NTK-aware: grow the base with the context (transformers' _compute_dynamic_ntk_parameters).
    base *= ((scaling.factor * seqLen) / scaling.originalMaxPositions - (scaling.factor - 1)) ** (dim / (dim - 2));
  }
  const invFreq = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) invFreq[i] = 1 / base ** ((2 * i) / dim);
  if (scaling?.type === 'linear') {
    for (let i = 0; i < invFreq.length; i++) invFreq[i] /= scaling.factor;
  } else if (scaling?.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const lowFreqWavelen = originalMaxPositions / lowFreqFactor;
    const highFreqWavelen = originalMaxPositions / highFreqFactor;
    for (let i = 0; i < invFreq.length; i++) {
      const wavelen = (2 * Math.PI) / invFreq[i];
      if (wavelen > lowFreqWavelen) invFreq[i] /= factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        invFreq[i] = (1 - smooth) * (invFreq[i] / factor) + smooth * invFreq[i];
      }
    }
  }
  return invFreq;
}

export interface RotaryTables {
  /** [B|1, 1, T, rotaryDim] */
  cos: tf.Tensor4D;
  /** sin with its first half negated, so that rotateHalf(x)·sin = swapHalves(x)·sinSigned. [B|1, 1, T, rotaryDim] */
  sinSigned: tf.Tensor4D;
  rotaryDim: number;
}

/** cos/sin tables for integer positions [B|1, T]; `seqLen` is the total key length (for 'dynamic'). */
export function rotaryTables(rope: RopeConfig, positions: tf.Tensor2D, seqLen: number): RotaryTables {
  return tf.tidy(() => {
    const invFreq = tf.tensor1d(inverseFrequencies(rope, seqLen)); // [rd/2]
    const angles = positions.toFloat().expandDims(2).mul(invFreq).expandDims(1); // [B|1, 1, T, rd/2]
    const cosHalf = angles.cos();
    const sinHalf = angles.sin();
    return {
      cos: tf.concat([cosHalf, cosHalf], 3) as tf.Tensor4D, // [B|1, 1, T, rd]
      sinSigned: tf.concat([sinHalf.neg(), sinHalf], 3) as tf.Tensor4D,
      rotaryDim: rope.rotaryDim,
    };
  });
}

/** [.., rd] → [.., rd] with the two halves exchanged (its own inverse and transpose). Slices + concat: wasm's Reverse is 5× slower. */
function swapHalves(x: tf.Tensor4D): tf.Tensor4D {
  const [batch, heads, seqLen, rd] = x.shape;
  const half = rd / 2;
  return tf.concat([x.slice([0, 0, 0, half], [batch, heads, seqLen, half]), x.slice([0, 0, 0, 0], [batch, heads, seqLen, half])], 3);
}

/**
 * Rotates the first rotaryDim dims of x [B, H, T, d] (rotate-half pairs i, i + rd/2); the rest pass through.
 * x·cos + rotateHalf(x)·sin as one op whose gradient dy·cos + swapHalves(dy·sinSigned) needs no pad/concat.
 */
export function applyRotary(x: tf.Tensor4D, tables: RotaryTables): tf.Tensor4D {
  const [batch, heads, seqLen, headDim] = x.shape;
  const rd = tables.rotaryDim;
  const rotating = rd === headDim ? x : x.slice([0, 0, 0, 0], [batch, heads, seqLen, rd]); // [B, H, T, rd]
  const rotate = tf.customGrad((input, save) => {
    const { cos, sinSigned } = tables;
    (save as tf.GradSaveFunc)([cos, sinSigned]);
    const part = input as tf.Tensor4D;
    return {
      value: part.mul(cos).add(swapHalves(part).mul(sinSigned)) as tf.Tensor4D, // [B, H, T, rd]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [savedCos, savedSin] = saved;
          return dy.mul(savedCos).add(swapHalves(dy.mul(savedSin) as tf.Tensor4D));
        }),
    };
  });
  const rotated = rotate(rotating) as tf.Tensor4D; // [B, H, T, rd]
  if (rd === headDim) return rotated;
  const passing = x.slice([0, 0, 0, rd], [batch, heads, seqLen, headDim - rd]); // [B, H, T, d - rd]
  return tf.concat([rotated, passing], 3); // [B, H, T, d]
}
