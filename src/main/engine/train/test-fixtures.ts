// Shared by the trainer and evaluation tests: a tiny random LLaMA (2 layers, D = 16, vocab 64, seeded) that
// trains in milliseconds, toy encoded examples for it, where the shared stories260K model lives, and a run
// recorder for jobs run by engine tests (the app hands jobs the registry's runs store instead).
import * as tf from '@tensorflow/tfjs';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '@shared/errors';
import { RunManifestSchema, type RunManifest, type TrainProgress } from '@shared/contract/training';
import { Rng } from '../../platform/rng';
import { LlamaModel, llamaWeightShapes, parseLlamaConfig } from '../models/llama';
import type { EncodedExample } from './encode';
import type { RunRecorder } from './run-recorder';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(repoRoot, '../shared');
export const storiesHf = resolve(sharedDir, 'models/stories260K-hf');

/** True when stories260K-hf is present; logs why the caller skips otherwise. */
export function hasStoriesHf(): boolean {
  const ok = existsSync(resolve(storiesHf, 'model.safetensors'));
  if (!ok) console.warn(`skipping stories260K training tests: ${storiesHf} is absent (set PREFIXLAB_SHARED)`);
  return ok;
}

/** The tiny LLaMA's config.json fields (tinyModel; replicas build a random model from them). */
export const TINY_LLAMA_CONFIG = {
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 64,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
};

export function tinyModel(seed = 1): LlamaModel {
  const config = parseLlamaConfig(TINY_LLAMA_CONFIG, 'tiny-llama');
  const weights = new Map<string, tf.Tensor>();
  let offset = 0;
  for (const [name, shape] of llamaWeightShapes(config)) {
    weights.set(name, name.endsWith('norm.weight') ? tf.ones(shape) : tf.randomNormal(shape, 0, 0.3, 'float32', seed * 1000 + offset++));
  }
  return new LlamaModel(config, weights);
}

/** Twelve labelled rows (two per name: sun → happy, rain → sad) written as JSONL to `path`: the jobs' small dataset. */
export function writeWeatherData(path: string): void {
  const names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna'];
  writeFileSync(
    path,
    names.flatMap((n) => [JSON.stringify({ text: `${n} saw the sun.`, label: 'happy' }), JSON.stringify({ text: `${n} saw the rain.`, label: 'sad' })]).join('\n') + '\n',
  );
}

/**
 * n toy examples for the tiny model: BOS, 3–6 prompt tokens, then a one-token target that depends on the
 * prompt's first token's parity (a learnable rule).
 */
export function toyExamples(n: number, seed = 7): EncodedExample[] {
  const rng = Rng.fromSeed(seed);
  return Array.from({ length: n }, (_, index) => {
    const promptLen = 3 + rng.int(4);
    const prompt = Array.from({ length: promptLen }, () => 10 + rng.int(40));
    const target = prompt[0] % 2 === 0 ? 60 : 61;
    return { index, ids: [1, ...prompt, target], targetStart: promptLen + 1, isTruncated: false };
  });
}

/**
 * A RunRecorder that keeps manifests and progress in memory and the checkpoints in `root`/<runId>/checkpoints
 * (the trainer writes those itself); manifests are checked against the contract's schema as the registry's
 * store checks them. One instance is one "runs folder": resume a run through the same one.
 */
export class MemoryRecorder implements RunRecorder {
  readonly manifests = new Map<string, RunManifest>();
  readonly metrics = new Map<string, TrainProgress[]>();

  constructor(readonly root: string) {}

  newRunId(method: string): string {
    return `test-${method}-${randomBytes(4).toString('hex')}`;
  }

  runDir(runId: string): string {
    return join(this.root, runId);
  }

  checkpointsDir(runId: string): string {
    return join(this.runDir(runId), 'checkpoints');
  }

  async create(manifest: RunManifest): Promise<void> {
    if (this.manifests.has(manifest.runId)) throw new ApiError('already_exists', `run ${manifest.runId} already exists`);
    mkdirSync(this.checkpointsDir(manifest.runId), { recursive: true });
    this.manifests.set(manifest.runId, RunManifestSchema.parse(manifest));
  }

  read(runId: string): RunManifest {
    const manifest = this.manifests.get(runId);
    if (!manifest) throw new ApiError('not_found', `run ${runId} does not exist`);
    return structuredClone(manifest);
  }

  async update(runId: string, change: (manifest: RunManifest) => RunManifest | void): Promise<RunManifest> {
    const current = this.read(runId);
    const next = change(current) ?? current;
    this.manifests.set(runId, RunManifestSchema.parse(next));
    return next;
  }

  appendMetrics(runId: string, point: TrainProgress): void {
    this.metrics.set(runId, [...(this.metrics.get(runId) ?? []), point]);
  }

  async truncateMetrics(runId: string, step: number): Promise<void> {
    this.metrics.set(
      runId,
      (this.metrics.get(runId) ?? []).filter((p) => p.step <= step),
    );
  }
}
