// Rotary position embedding in Hugging Face's rotate-half layout: frequencies (with rope_scaling
// 'linear', 'dynamic', 'llama3' and 'longrope'), cos/sin tables for given positions, and partial rotary (first dims only).
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { ConfigFields } from './config-fields';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMaxPositions: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  /**
   * LongRoPE (Phi-3): per-frequency divisors, `shortFactor` while the sequence fits the pretraining context
   * (originalMaxPositions), `longFactor` beyond it; cos/sin are multiplied by attentionFactor.
   */
  | { type: 'longrope'; shortFactor: number[]; longFactor: number[]; originalMaxPositions: number; attentionFactor: number };

export interface RopeConfig {
  theta: number;
  /** Leading dims of each head that rotate (head_dim unless partial rotary). Even. */
  rotaryDim: number;
  scaling: RopeScaling | null;
}

/** What a family knows that rope_scaling itself does not say. */
export interface RopeScalingDefaults {
  /** The family's default original_max_position_embeddings when config.json omits it (Phi3Config: 4096). */
  originalMaxPositions?: number;
  /** Rotary dims of a head, to check longrope's factor lists (rotaryDim / 2 entries each). */
  rotaryDim?: number;
}

/** Reads rope_scaling from a config; unsupported types fail naming the field. */
export function parseRopeScaling(fields: ConfigFields, maxPositions: number, defaults: RopeScalingDefaults = {}): RopeScaling | null {
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
    case 'longrope':
      return parseLongRope(fields, raw, maxPositions, defaults, fail);
    default:
      return fail(`type '${type}' is not supported (supported: linear, dynamic, llama3, longrope)`);
  }
}

/**
 * longrope as transformers' _compute_longrope_parameters: with a top-level original_max_position_embeddings
 * (Phi-3 always has one) the factor is max_position_embeddings / original, else rope_scaling.factor over
 * max_position_embeddings; attention_factor defaults to sqrt(1 + ln(factor) / ln(original)) (1 when factor ≤ 1).
 */
function parseLongRope(fields: ConfigFields, raw: Record<string, unknown>, maxPositions: number, defaults: RopeScalingDefaults, fail: (why: string) => never): RopeScaling {
  const factorList = (key: 'short_factor' | 'long_factor'): number[] => {
    const list = raw[key];
    if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)) {
      return fail(`longrope needs ${key}, a list of positive numbers, got ${JSON.stringify(list)?.slice(0, 80)}`);
    }
    if (defaults.rotaryDim !== undefined && list.length !== defaults.rotaryDim / 2) {
      fail(`longrope ${key} has ${list.length} entries; this model's ${defaults.rotaryDim} rotary dims need ${defaults.rotaryDim / 2}`);
    }
    return list as number[];
  };
  const shortFactor = factorList('short_factor');
  const longFactor = factorList('long_factor');
  if (shortFactor.length !== longFactor.length) fail(`longrope short_factor and long_factor differ in length (${shortFactor.length} and ${longFactor.length})`);
  const hasOriginal = fields.has('original_max_position_embeddings') || defaults.originalMaxPositions !== undefined;
  const originalMaxPositions = hasOriginal ? fields.int('original_max_position_embeddings', defaults.originalMaxPositions) : maxPositions;
  const factor = hasOriginal ? maxPositions / originalMaxPositions : Number(raw.factor ?? 1);
  const given = raw.attention_factor;
  if (given !== undefined && given !== null && (typeof given !== 'number' || !Number.isFinite(given) || given <= 0)) {
    fail(`attention_factor must be a positive number, got ${JSON.stringify(given)}`);
  }
  const attentionFactor = typeof given === 'number' ? given : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMaxPositions));
  return { type: 'longrope', shortFactor, longFactor, originalMaxPositions, attentionFactor };
}

/** Inverse frequencies [rotaryDim / 2] for a sequence of `seqLen` positions (only 'dynamic' and 'longrope' depend on it). */
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
  if (scaling?.type === 'longrope') {
    // transformers switches on max(position_ids) + 1, which is seqLen for unpadded rows.
    const factors = seqLen > scaling.originalMaxPositions ? scaling.longFactor : scaling.shortFactor;
    if (factors.length !== invFreq.length)
      throw new ApiError('bad_file', `rope_scaling longrope has ${factors.length} factors for ${invFreq.length} rotary frequencies`, { field: 'rope_scaling' });
    for (let i = 0; i < invFreq.length; i++) invFreq[i] = 1 / (factors[i] * base ** ((2 * i) / dim));
  }
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
    // longrope scales cos and sin (so q·k by attentionFactor²), as transformers' rotary embedding does.
    const attentionFactor = rope.scaling?.type === 'longrope' ? rope.scaling.attentionFactor : 1;
    const cosHalf = attentionFactor === 1 ? angles.cos() : angles.cos().mul(attentionFactor);
    const sinHalf = attentionFactor === 1 ? angles.sin() : angles.sin().mul(attentionFactor);
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
