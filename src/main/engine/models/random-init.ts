// Builds a model of any supported family with random weights from a config (benchmarks, tests): weights
// ~ N(0, 0.02²) as Hugging Face initialises them, norm scales 1, biases 0. Seeded, so shapes repeat exactly.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { CausalLM } from './causal-lm';
import { architectureFor, SUPPORTED_MODEL_TYPES } from './architectures';

export function createRandomModel(rawConfig: Record<string, unknown>, seed = 0): CausalLM {
  const modelType = String(rawConfig.model_type);
  const spec = architectureFor(modelType);
  if (!spec) throw new ApiError('unsupported', `unknown model_type "${modelType}" (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`, { field: 'model_type' });
  const config = spec.parseConfig(rawConfig, 'config.json');
  const weights = new Map<string, tf.Tensor>();
  let index = 0;
  for (const [name, shape] of spec.weightShapes(config)) {
    const isScale = /(norm|ln_\w+|layernorm)[^.]*\.weight$/i.test(name);
    const isBias = name.endsWith('.bias');
    weights.set(name, isScale ? tf.ones(shape) : isBias ? tf.zeros(shape) : tf.randomNormal(shape, 0, 0.02, 'float32', seed * 100_003 + index));
    index++;
  }
  return spec.create(config, weights);
}
