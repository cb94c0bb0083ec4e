// Building blocks shared by the model files: norms, linear layers (through the LoRA hook), activations
// and MLPs. Attention and RoPE live in attention.ts and rope.ts and are re-exported here.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { ModelHooks } from './hooks';

export { attention, splitHeads } from './attention';
export { applyRotary, rotaryTables } from './rope';

/** RMSNorm: x / sqrt(mean(x²) + eps) · weight, over the last axis. x [B, T, D] → [B, T, D] */
export function rmsNorm(x: tf.Tensor3D, weight: tf.Tensor1D, eps: number): tf.Tensor3D {
  const meanSquare = x.square().mean(-1, true); // [B, T, 1]
  return x.mul(meanSquare.add(eps).rsqrt()).mul(weight); // [B, T, D]
}

/** LayerNorm over the last axis. x [B, T, D] → [B, T, D] */
export function layerNorm(x: tf.Tensor3D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor3D {
  const { mean, variance } = tf.moments(x, -1, true); // [B, T, 1] each
  return x.sub(mean).mul(variance.add(eps).rsqrt()).mul(weight).add(bias); // [B, T, D]
}

/**
 * A linear layer named by its Hugging Face module path, applied through hooks.wrapLinear when set.
 * layout 'out_in' is torch.nn.Linear's [out, in]; 'in_out' is GPT-2's Conv1D [in, out].
 * x [B, T, in] → [B, T, out]
 */
export function linear(
  x: tf.Tensor3D,
  name: string,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
  layout: 'out_in' | 'in_out',
  hooks?: ModelHooks,
): tf.Tensor3D {
  const [batchSize, seqLen, inDim] = x.shape;
  const base = (input: tf.Tensor2D): tf.Tensor2D => {
    const product = layout === 'out_in' ? tf.matMul(input, weight, false, true) : tf.matMul(input, weight); // [N, out]
    return (bias ? product.add(bias) : product) as tf.Tensor2D;
  };
  const flat = x.reshape([batchSize * seqLen, inDim]) as tf.Tensor2D; // [N, in]
  const out = hooks?.wrapLinear ? hooks.wrapLinear(name, flat, base) : base(flat); // [N, out]
  return out.reshape([batchSize, seqLen, out.shape[1]]); // [B, T, out]
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

export function activate(x: tf.Tensor3D, activation: Activation): tf.Tensor3D {
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
