// AdamW (Loshchilov & Hutter, decoupled weight decay) on tf.Variables, written out because tfjs ships only
// Adam. Same update as torch.optim.AdamW; moments live in non-trainable variables and can be saved/restored.
//
//   t ← t + 1
//   θ ← θ · (1 − lr·λ)                       (decayed variables only)
//   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
//   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../methods/method';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  epsilon: number;
  /** λ, decoupled: applied as θ·(1 − lr·λ), not through the gradient. */
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 };

export interface OptimizerState {
  /** Updates applied so far (t). */
  step: number;
  /** exp_avg.<i> and exp_avg_sq.<i> for the i-th variable. */
  tensors: StateDict;
}

export class AdamW {
  /** Updates applied so far. */
  stepCount = 0;
  private readonly firstMoments: tf.Variable[];
  private readonly secondMoments: tf.Variable[];
  private readonly isDecayed: boolean[];

  /**
   * `variables` in a fixed order (state is saved by index). `noDecay` names variables exempt from weight
   * decay; variables of rank ≤ 1 (biases, norm scales) are always exempt.
   */
  constructor(
    readonly variables: tf.Variable[],
    readonly config: AdamWConfig,
    noDecay: Set<string> = new Set(),
  ) {
    // tidy frees the zeros the variables were copied from (variables themselves outlive a tidy).
    this.firstMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    this.secondMoments = variables.map((v) => tf.tidy(() => tf.variable(tf.zerosLike(v), false)));
    this.isDecayed = variables.map((v) => v.rank > 1 && !noDecay.has(v.name) && !noDecay.has(stripScope(v.name)));
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

  /** Moments copied out (float32) with the step count. */
  async getState(): Promise<OptimizerState> {
    const tensors: StateDict = {};
    for (let i = 0; i < this.variables.length; i++) {
      tensors[`exp_avg.${i}`] = { shape: this.variables[i].shape, data: (await this.firstMoments[i].data()) as Float32Array };
      tensors[`exp_avg_sq.${i}`] = { shape: this.variables[i].shape, data: (await this.secondMoments[i].data()) as Float32Array };
    }
    return { step: this.stepCount, tensors };
  }

  /** Restores getState(); throws naming the tensor on a missing key or a shape mismatch. */
  setState(state: OptimizerState): void {
    for (let i = 0; i < this.variables.length; i++) {
      for (const [key, target] of [
        [`exp_avg.${i}`, this.firstMoments[i]],
        [`exp_avg_sq.${i}`, this.secondMoments[i]],
      ] as const) {
        const saved = state.tensors[key];
        if (!saved) throw new Error(`optimizer state has no ${key} (checkpoint made for different trainable variables?)`);
        if (saved.shape.join(',') !== target.shape.join(',')) {
          throw new Error(`optimizer state ${key} has shape [${saved.shape.join(', ')}], expected [${target.shape.join(', ')}]`);
        }
        tf.tidy(() => target.assign(tf.tensor(saved.data, saved.shape, 'float32')));
      }
    }
    const extra = Object.keys(state.tensors).length - 2 * this.variables.length;
    if (extra !== 0) throw new Error(`optimizer state holds ${Object.keys(state.tensors).length} tensors for ${this.variables.length} variables`);
    this.stepCount = state.step;
  }

  dispose(): void {
    for (const v of [...this.firstMoments, ...this.secondMoments]) v.dispose();
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
