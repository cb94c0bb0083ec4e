// Model shapes the benchmarks run: stories260K from ../shared (real weights) and random-init models with
// published shapes (weights of SmolLM-135M and GPT-2 small cannot be downloaded here; shapes can).
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { PUBLISHED_SHAPES } from '../src/main/engine/models/published-shapes';

export interface ShapeSpec {
  name: string;
  /** A Hugging Face config; the model is built with random weights. */
  config?: Record<string, unknown>;
  /** A real model folder (or GGUF file) instead. */
  path?: string;
  /** Run only when named with --shape (a model that may not be cached). */
  explicitOnly?: boolean;
}

export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(import.meta.dirname, '../../shared');

/** Where scripts/models/fetch-models.py puts the real GGUF models (PREFIXLAB_MODEL_CACHE overrides). */
const modelCache = process.env.PREFIXLAB_MODEL_CACHE || join(homedir(), '.cache', 'prefixlab', 'models');

export const SHAPES: ShapeSpec[] = [
  { name: 'stories260K', path: resolve(sharedDir, 'models/stories260K-hf') },
  // The real GGUF models (fetch-models.py); their quantized layers can stay as blocks (--quantized-base on).
  { name: 'smollm2-135m', path: join(modelCache, 'SmolLM2-135M-Instruct.Q4_1.gguf'), explicitOnly: true },
  { name: 'gemma3-270m', path: join(modelCache, 'gemma-3-270m-q4_k_m.gguf'), explicitOnly: true },
  {
    name: 'tiny-4x256',
    config: PUBLISHED_SHAPES['tiny-4x256'],
  },
  {
    name: 'smollm-135m',
    config: PUBLISHED_SHAPES['smollm-135m'],
  },
  {
    name: 'gpt2-small',
    config: PUBLISHED_SHAPES['gpt2-small'],
  },
];
