// Building blocks shared by the model files: norms, linear layers (through the LoRA hook), activations
// and MLPs. Attention and RoPE live in attention.ts and rope.ts and are re-exported here.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { ModelHooks } from './hooks';
import { isTrainable, linearProduct, type LinearWeights } from './ops';
import { quantizedLinearProduct, type QuantizedLinearWeights } from './quantized-linear';

export { attention, splitHeads } from './attention';
export { applyRotary, rotaryTables } from './rope';
export { embeddingLookup } from './ops';
export { runBlock } from './block-recompute';

// Norms, the gated activation and residual sums are single ops with hand-written gradients when their
// weights are frozen: the generic chains cost 3–4× the ops (each a native-backend call) and keep every
// intermediate. Trainable weights (full fine-tuning) take the generic formulation.

/** RMSNorm: x / sqrt(mean(x²) + eps) · weight, over the last axis. x [.., D] → [.., D] */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  if (isTrainable(weight)) return x.mul(x.square().mean(-1, true).add(eps).rsqrt()).mul(weight);
  const op = tf.customGrad((arg, save) => {
    const input = arg as tf.Tensor;
    const inverseRms = input.square().mean(-1, true).add(eps).rsqrt(); // [.., 1]
    (save as tf.GradSaveFunc)([input, inverseRms, weight]);
    return {
      value: input.mul(inverseRms).mul(weight), // [.., D]
      // dx = r·(g − x·r²·mean(g ⊙ x)), g = dy ⊙ weight
      gradFunc: (dy: tf.Tensor, [saved, r, savedWeight]: tf.Tensor[]) =>
        tf.tidy(() => {
          const g = dy.mul(savedWeight);
          return g.sub(saved.mul(g.mul(saved).mean(-1, true).mul(r.square()))).mul(r);
        }),
    };
  });
  return op(x) as T;
}

/**
 * Gemma's RMSNorm, x / sqrt(mean(x²) + eps) · (1 + weight): its checkpoints store the scale minus one.
 * A trainable weight (full fine-tuning) takes the generic chain so that 1 + weight gets its gradient.
 */
export function gemmaRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  if (isTrainable(weight)) return x.mul(x.square().mean(-1, true).add(eps).rsqrt()).mul(weight.add(1));
  return rmsNorm(x, weight.add(1) as tf.Tensor1D, eps);
}

/** LayerNorm over the last axis. x [.., D] → [.., D] */
export function layerNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): T {
  if (isTrainable(weight) || isTrainable(bias)) {
    const { mean, variance } = tf.moments(x, -1, true); // [.., 1] each
    return x.sub(mean).mul(variance.add(eps).rsqrt()).mul(weight).add(bias);
  }
  const op = tf.customGrad((arg, save) => {
    const input = arg as tf.Tensor;
    const { mean, variance } = tf.moments(input, -1, true); // [.., 1] each
    const inverseStd = variance.add(eps).rsqrt(); // [.., 1]
    const normalised = input.sub(mean).mul(inverseStd); // [.., D]
    (save as tf.GradSaveFunc)([normalised, inverseStd, weight]);
    return {
      value: normalised.mul(weight).add(bias), // [.., D]
      // dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)), g = dy ⊙ weight
      gradFunc: (dy: tf.Tensor, [xHat, r, savedWeight]: tf.Tensor[]) =>
        tf.tidy(() => {
          const g = dy.mul(savedWeight);
          return g
            .sub(g.mean(-1, true))
            .sub(xHat.mul(g.mul(xHat).mean(-1, true)))
            .mul(r);
        }),
    };
  });
  return op(x) as T;
}

/**
 * A linear layer named by its Hugging Face module path, applied through hooks.wrapLinear when set.
 * weights.layout 'out_in' is torch.nn.Linear's [out, in]; 'in_out' is GPT-2's Conv1D [in, out].
 * x [N, in] → [N, out] (or [B, T, in] → [B, T, out])
 */
export function linear<T extends tf.Tensor2D | tf.Tensor3D>(x: T, name: string, weights: LinearWeights | QuantizedLinearWeights, hooks?: ModelHooks): T {
  // A quantized frozen matrix (quantized-linear.ts) is dequantized inside its products.
  const base = (input: tf.Tensor2D): tf.Tensor2D => ('quantized' in weights ? quantizedLinearProduct(input, weights) : linearProduct(input, weights)); // [N, out]
  const inDim = x.shape[x.rank - 1];
  const flat = (x.rank === 2 ? x : x.reshape([-1, inDim])) as tf.Tensor2D; // [N, in]
  const out = hooks?.wrapLinear ? hooks.wrapLinear(name, flat, base) : base(flat); // [N, out]
  return (x.rank === 2 ? out : out.reshape([x.shape[0], x.shape[1], out.shape[1]])) as T; // [.., out]
}

/**
 * a + b for equal shapes (the residual stream), whose gradient hands dy to both without the generic path's
 * reshapes. Clones, not dy itself: the tape disposes a gradient it accumulates into, so none may be shared.
 */
export function residualAdd<T extends tf.Tensor>(a: T, b: T): T {
  const op = tf.customGrad((left, right) => ({
    value: (left as tf.Tensor).add(right as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => [dy.clone(), dy.clone()],
  }));
  return op(a, b) as T;
}

/** act(gate) ⊙ up, the gated MLP's product (SwiGLU for silu). gate, up [.., F] → [.., F] */
export function gatedActivation<T extends tf.Tensor>(gate: T, up: T, activation: Activation): T {
  if (activation === 'gelu' || activation === 'gelu_new') return gatedGelu(gate, up, activation);
  if (activation !== 'silu') return activate(gate, activation).mul(up);
  const op = tf.customGrad((g, u, save) => {
    const sig = tf.sigmoid(g as tf.Tensor);
    (save as tf.GradSaveFunc)([g as tf.Tensor, u as tf.Tensor, sig]);
    return {
      value: (g as tf.Tensor).mul(sig).mul(u as tf.Tensor), // silu(g)·u
      // d/dg silu(g) = s + silu(g)·(1 − s)
      gradFunc: (dy: tf.Tensor, [sg, su, ss]: tf.Tensor[]) =>
        tf.tidy(() => {
          const silu = sg.mul(ss);
          return [dy.mul(su).mul(ss.add(silu.mul(tf.scalar(1).sub(ss)))), dy.mul(silu)];
        }),
    };
  });
  return op(gate, up) as T;
}

/**
 * gelu(gate) ⊙ up (GeGLU: Gemma). Through activate() and mul the tape keeps gate, gelu(gate) and up until the
 * backward pass ends; this keeps gate and up and recomputes gelu(gate) there (a few elementwise ops), one [N, F]
 * less per layer. Values and gradients are the two-op chain's, op for op.
 */
function gatedGelu<T extends tf.Tensor>(gate: T, up: T, activation: 'gelu' | 'gelu_new'): T {
  const op = tf.customGrad((g, u, save) => {
    (save as tf.GradSaveFunc)([g as tf.Tensor, u as tf.Tensor]);
    return {
      value: activateGeneric(g as tf.Tensor, activation).mul(u as tf.Tensor),
      // One tidy each, so the recomputation's temporaries are gone before the derivative's are made.
      gradFunc: (dy: tf.Tensor, [sg, su]: tf.Tensor[]) => {
        const dUp = tf.tidy(() => dy.mul(activateGeneric(sg, activation)));
        return [tf.tidy(() => dy.mul(su).mul(geluDerivative(sg, activation))), dUp];
      },
    };
  });
  return op(gate, up) as T;
}

// ---- activations ----

export type Activation = 'silu' | 'gelu' | 'gelu_new' | 'relu';

/** Maps a config's hidden_act / activation_function to one we implement. */
export function parseActivation(name: string, file: string, field: string): Activation {
  switch (name) {
    case 'silu':
    case 'swish':
      return 'silu';
    case 'gelu':
      return 'gelu';
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return 'gelu_new';
    case 'relu':
      return 'relu';
    default:
      throw new ApiError('unsupported', `activation '${name}' is not supported (supported: silu, gelu, gelu_new, gelu_pytorch_tanh, relu)`, { file, field });
  }
}

/**
 * act(x) with a hand-written gradient for the GELUs: their generic chains are 6–8 ops whose operands the tape
 * keeps until the backward pass ends, each [N, F]; the custom op keeps x alone (GPT-2-small training step:
 * peak tensor memory 6.9 → 2.8 GiB). Forward values are the generic formulas' own.
 */
export function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  if (activation !== 'gelu' && activation !== 'gelu_new') return activateGeneric(x, activation);
  const op = tf.customGrad((input, save) => {
    (save as tf.GradSaveFunc)([input as tf.Tensor]);
    return {
      value: activateGeneric(input as tf.Tensor, activation),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => tf.tidy(() => dy.mul(geluDerivative(saved, activation))),
    };
  });
  return op(x) as T;
}

/** d/dx of gelu (exact: Φ(x) + x·φ(x)) or gelu_new (tanh approximation), elementwise. */
function geluDerivative(x: tf.Tensor, activation: 'gelu' | 'gelu_new'): tf.Tensor {
  if (activation === 'gelu') {
    const cdf = tf.erf(x.mul(Math.SQRT1_2)).add(1).mul(0.5); // Φ(x)
    const pdf = x
      .square()
      .mul(-0.5)
      .exp()
      .mul(1 / Math.sqrt(2 * Math.PI)); // φ(x)
    return cdf.add(x.mul(pdf));
  }
  const c = Math.sqrt(2 / Math.PI);
  const t = tf.tanh(x.add(x.mul(x).mul(x).mul(0.044715)).mul(c)); // tanh(u)
  const du = x
    .square()
    .mul(3 * 0.044715)
    .add(1)
    .mul(c); // du/dx
  // 0.5·(1 + t) + 0.5·x·(1 − t²)·du/dx
  return t
    .add(1)
    .mul(0.5)
    .add(x.mul(tf.scalar(1).sub(t.square())).mul(du).mul(0.5));
}

function activateGeneric<T extends tf.Tensor>(x: T, activation: Activation): T {
  switch (activation) {
    case 'silu':
      return x.mul(tf.sigmoid(x)); // [B, T, F]
    case 'gelu':
      // Exact GELU with erf, as torch's nn.GELU().
      return x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5); // [B, T, F]
    case 'gelu_new': {
      const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)); // [B, T, F]
      return x.mul(tf.tanh(inner).add(1)).mul(0.5); // [B, T, F]
    }
    case 'relu':
      return tf.relu(x);
  }
}
