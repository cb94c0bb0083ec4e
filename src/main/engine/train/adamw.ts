// AdamW (Loshchilov & Hutter, decoupled weight decay) on tf.Variables, written out because tfjs ships only
// Adam. Same update as torch.optim.AdamW; moments live in non-trainable variables and can be saved/restored.
//
//   t ← t + 1
//   θ ← θ · (1 − lr·λ)                       (decayed variables only)
//   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
//   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
import * as tf from '@tensorflow/tfjs';
import type { F32Source } from '../io/safetensors';
import type { StateDict } from '../methods/method';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** λ, decoupled: applied as θ·(1 − lr·λ), not through the gradient. */
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 };

/**
 * Trained values up to this many elements are updated as flat groups (one set of kernels per group instead of
 * ~15 per variable: LoRA on a 30-layer model has 120 variables). Above it the flat copies would cost real memory
 * (full fine-tuning), so each variable is updated on its own.
 */
export const FUSED_ADAMW_MAX_ELEMENTS = 16 * 2 ** 20;

/** Variables updated together: same weight-decay treatment; moments kept flat, in the group's order. */
interface FusedGroup {
  indices: number[];
  sizes: number[];
  decayed: boolean;
  m: tf.Variable;
  v: tf.Variable;
}

export interface OptimizerState {
  /** Updates applied so far (t). */
  step: number;
  /** exp_avg.<i> and exp_avg_sq.<i> for the i-th variable. */
  tensors: StateDict;
}

/** OptimizerState with each tensor read when it is written. */
export interface OptimizerSources {
  step: number;
  tensors: Record<string, F32Source>;
}

export class AdamW {
  /** Updates applied so far. */
  stepCount = 0;
  /** Per-variable moments (unfused), or empty when `groups` holds them. */
  private readonly firstMoments: tf.Variable[] = [];
  private readonly secondMoments: tf.Variable[] = [];
  private readonly groups: FusedGroup[] = [];
  private readonly isDecayed: boolean[];

  /**
   * `variables` in a fixed order (state is saved by index). `noDecay` names variables exempt from weight
   * decay; variables of rank ≤ 1 (biases, norm scales) are always exempt.
   */
  constructor(
    readonly variables: tf.Variable[],
    readonly config: AdamWConfig,
    noDecay: Set<string> = new Set(),
    /** Force the flat-group update on or off (default: on up to FUSED_ADAMW_MAX_ELEMENTS trained values). */
    fused?: boolean,
  ) {
    this.isDecayed = variables.map((v) => v.rank > 1 && !noDecay.has(v.name) && !noDecay.has(stripScope(v.name)));
    const total = variables.reduce((sum, v) => sum + v.size, 0);
    // tidy frees the zeros the variables were copied from (variables themselves outlive a tidy).
    const zeros = (shape: number[]) => tf.tidy(() => tf.variable(tf.zeros(shape), false));
    if (fused ?? total <= FUSED_ADAMW_MAX_ELEMENTS) {
      for (const decayed of [true, false]) {
        const indices = variables.flatMap((_, i) => (this.isDecayed[i] === decayed ? [i] : []));
        if (!indices.length) continue;
        const sizes = indices.map((i) => variables[i].size);
        // A group of one keeps the variable's shape: no reshapes, exactly the unfused kernels.
        const shape = indices.length === 1 ? variables[indices[0]].shape : [sizes.reduce((a, b) => a + b, 0)];
        this.groups.push({ indices, sizes, decayed, m: zeros(shape), v: zeros(shape) });
      }
    } else {
      this.firstMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
      this.secondMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    }
  }

  /** Whether the update runs on flat groups (small trained sets) or variable by variable. */
  get fused(): boolean {
    return this.groups.length > 0;
  }

  /** Variables that receive weight decay (for the manifest and tests). */
  decayedNames(): string[] {
    return this.variables.filter((_, i) => this.isDecayed[i]).map((v) => v.name);
  }

  /**
   * One update. `grads[i]` is the gradient of variables[i] (never disposed here); `gradScale` multiplies
   * every gradient first (global-norm clipping).
   */
  step(grads: tf.Tensor[], learningRate: number, gradScale = 1): void {
    if (grads.length !== this.variables.length) throw new Error(`AdamW.step got ${grads.length} gradients for ${this.variables.length} variables`);
    this.stepCount += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const biasCorrection1 = 1 - beta1 ** this.stepCount;
    const biasCorrection2 = 1 - beta2 ** this.stepCount;
    const stepSize = learningRate / biasCorrection1;
    if (this.fused) {
      for (const group of this.groups) this.stepGroup(group, grads, learningRate, gradScale, stepSize, biasCorrection2);
      return;
    }
    // One variable at a time, in small tidied stages: the update's temporaries stay a few copies of one
    // variable, not a dozen copies of every variable held until one tidy over the loop ends (that made full
    // fine-tuning of SmolLM2-135M abort the 4 GiB wasm heap). Same operations in the same order.
    for (let i = 0; i < this.variables.length; i++) {
      const param = this.variables[i];
      const m = this.firstMoments[i];
      const v = this.secondMoments[i];
      const grad = gradScale === 1 ? grads[i] : tf.tidy(() => grads[i].mul(gradScale));
      try {
        assignFrom(m, () => m.mul(beta1).add(grad.mul(1 - beta1)));
        assignFrom(v, () => v.mul(beta2).add(grad.square().mul(1 - beta2)));
      } finally {
        if (grad !== grads[i]) grad.dispose();
      }
      const denom = tf.tidy(() => v.sqrt().div(Math.sqrt(biasCorrection2)).add(epsilon));
      const update = tf.tidy(() => m.div(denom).mul(stepSize));
      denom.dispose();
      const isDecayed = this.isDecayed[i] && weightDecay > 0;
      assignFrom(param, () => (isDecayed ? param.mul(1 - learningRate * weightDecay) : param).sub(update));
      update.dispose();
    }
  }

  /**
   * The unfused update's operations, element for element, on the group's variables concatenated: every
   * operation is elementwise, so each value is computed exactly as variable by variable (bit-identical).
   */
  private stepGroup(group: FusedGroup, grads: tf.Tensor[], learningRate: number, gradScale: number, stepSize: number, biasCorrection2: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const flat = (tensors: tf.Tensor[]) => (tensors.length === 1 ? tensors[0] : tf.concat(tensors.map((t) => t.reshape([-1]))));
    const grad = tf.tidy(() => {
      const g = flat(group.indices.map((i) => grads[i]));
      return gradScale === 1 ? g : g.mul(gradScale);
    });
    try {
      assignFrom(group.m, () => group.m.mul(beta1).add(grad.mul(1 - beta1)));
      assignFrom(group.v, () => group.v.mul(beta2).add(grad.square().mul(1 - beta2)));
    } finally {
      // A group of one with no scaling hands back the caller's gradient itself: not ours to free.
      if (!grads.includes(grad)) grad.dispose();
    }
    const decayed = group.decayed && weightDecay > 0;
    const params = group.indices.map((i) => this.variables[i]);
    const next = tf.tidy(() => {
      const update = group.m.div(group.v.sqrt().div(Math.sqrt(biasCorrection2)).add(epsilon)).mul(stepSize);
      const param = flat(params);
      const updated = (decayed ? param.mul(1 - learningRate * weightDecay) : param).sub(update);
      return params.length === 1 ? [updated] : tf.split(updated, group.sizes);
    });
    params.forEach((param, k) => {
      if (params.length === 1) param.assign(next[k]);
      else tf.tidy(() => param.assign(next[k].reshape(param.shape)));
      next[k].dispose();
    });
  }

  /** Moments copied out (float32) with the step count; the same keys and shapes whether fused or not. */
  async getState(): Promise<OptimizerState> {
    const sources = this.stateSources();
    const tensors: StateDict = {};
    for (const [key, { shape, read }] of Object.entries(sources.tensors)) tensors[key] = { shape, data: read() };
    return { step: sources.step, tensors };
  }

  /**
   * getState()'s tensors, each read when a writer asks for it (checkpoints). Full fine-tuning's moments are
   * twice the model: reading them all before writing would double the optimiser's memory for the checkpoint.
   */
  stateSources(): OptimizerSources {
    const tensors: Record<string, F32Source> = {};
    const put = (i: number, m: () => Float32Array, v: () => Float32Array) => {
      tensors[`exp_avg.${i}`] = { shape: this.variables[i].shape, read: m };
      tensors[`exp_avg_sq.${i}`] = { shape: this.variables[i].shape, read: v };
    };
    for (const group of this.groups) {
      // Flat groups are small by construction (FUSED_ADAMW_MAX_ELEMENTS): read whole, handed out in views.
      const [m, v] = [group.m.dataSync() as Float32Array, group.v.dataSync() as Float32Array];
      let offset = 0;
      group.indices.forEach((i, k) => {
        const [begin, end] = [offset, offset + group.sizes[k]];
        put(
          i,
          () => m.subarray(begin, end),
          () => v.subarray(begin, end),
        );
        offset = end;
      });
    }
    this.firstMoments.forEach((m, i) => {
      const v = this.secondMoments[i];
      put(
        i,
        () => m.dataSync() as Float32Array,
        () => v.dataSync() as Float32Array,
      );
    });
    return { step: this.stepCount, tensors };
  }

  /** Restores getState(); throws naming the tensor on a missing key or a shape mismatch. */
  setState(state: OptimizerState): void {
    const saved = (key: string, i: number) => {
      const entry = state.tensors[key];
      if (!entry) throw new Error(`optimizer state has no ${key} (checkpoint made for different trainable variables?)`);
      const expected = this.variables[i].shape;
      if (entry.shape.join(',') !== expected.join(',')) {
        throw new Error(`optimizer state ${key} has shape [${entry.shape.join(', ')}], expected [${expected.join(', ')}]`);
      }
      return entry.data;
    };
    // Every entry is checked before any moment changes, so a bad checkpoint leaves the optimiser as it was.
    for (let i = 0; i < this.variables.length; i++) for (const key of [`exp_avg.${i}`, `exp_avg_sq.${i}`]) saved(key, i);
    for (const group of this.groups) {
      for (const [prefix, target] of [
        ['exp_avg', group.m],
        ['exp_avg_sq', group.v],
      ] as const) {
        const data = new Float32Array(target.size);
        let offset = 0;
        for (const i of group.indices) {
          const values = saved(`${prefix}.${i}`, i);
          data.set(values, offset);
          offset += values.length;
        }
        tf.tidy(() => target.assign(tf.tensor(data, target.shape, 'float32')));
      }
    }
    for (let i = 0; i < this.firstMoments.length; i++) {
      for (const [key, target] of [
        [`exp_avg.${i}`, this.firstMoments[i]],
        [`exp_avg_sq.${i}`, this.secondMoments[i]],
      ] as const) {
        tf.tidy(() => target.assign(tf.tensor(saved(key, i), target.shape, 'float32')));
      }
    }
    const extra = Object.keys(state.tensors).length - 2 * this.variables.length;
    if (extra !== 0) throw new Error(`optimizer state holds ${Object.keys(state.tensors).length} tensors for ${this.variables.length} variables`);
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const v of [...this.firstMoments, ...this.secondMoments, ...this.groups.flatMap((g) => [g.m, g.v])]) v.dispose();
  }
}

/** variable ← value(), the value's temporaries freed at once (the variable keeps the result's buffer). */
function assignFrom(variable: tf.Variable, value: () => tf.Tensor): void {
  const next = tf.tidy(value);
  variable.assign(next);
  next.dispose();
}

/** "model0/model.layers.0.x" → "model.layers.0.x" (variable scopes differ between processes). */
function stripScope(name: string): string {
  const slash = name.indexOf('/');
  return slash < 0 ? name : name.slice(slash + 1);
}
