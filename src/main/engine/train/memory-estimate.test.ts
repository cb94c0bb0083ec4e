// The memory estimate against peak tensor memory measured by the training benchmark (tf.profile, batch 8, the
// fused head loss) on the real models and the wasm shapes: the guard refuses and recomputes by this estimate,
// so it must neither halve a run's need (the old 3·V logits term did, for Gemma's 262,144-token vocabulary)
// nor fall far below it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelCache, realModels, repoRoot } from '../test-paths';
import { compactWeightsOf } from '../io/gguf/compact-weights';
import { inspectGguf } from '../io/gguf/gguf-model';
import { getMethod } from '../methods/registry';
import type { MethodName } from '../methods/method';
import { architectureFor } from '../models/architectures';
import type { ModelConfig } from '../models/causal-lm';
import { PUBLISHED_SHAPES, type PublishedShape } from '../models/published-shapes';
import { estimateRun } from './memory-guard';
import { fusesHeadLoss } from './memory-estimate';

const configOf = (raw: Record<string, unknown>): ModelConfig => architectureFor(String(raw.model_type))!.parseConfig(raw, 'config.json');
const benchShape = (name: PublishedShape): ModelConfig => configOf(PUBLISHED_SHAPES[name]);
// The benchmark's random shapes (smollm-135m is SmolLM2-135M-Instruct's config); Gemma-3-270M's written out.
const smollm = benchShape('smollm-135m');
const gpt2 = benchShape('gpt2-small');
const tiny = benchShape('tiny-4x256');
const gemma = configOf({
  model_type: 'gemma3_text',
  hidden_size: 640,
  num_hidden_layers: 18,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  head_dim: 256,
  intermediate_size: 2048,
  vocab_size: 262144,
  query_pre_attn_scalar: 256,
  sliding_window: 512,
  max_position_embeddings: 32768,
});

interface Measured {
  file: string;
  shape: string;
  config: ModelConfig;
  backend: 'tensorflow' | 'wasm';
  method: MethodName;
  seqLen: number;
  recompute?: boolean;
}

/** One row per method of `file` (native unless said), as the benchmark names its shape. */
const rowsOf = (file: string, shape: string, config: ModelConfig, methods: MethodName[], seqLen: number, backend: Measured['backend'] = 'tensorflow'): Measured[] =>
  methods.map((method) => ({ file, shape, config, backend, method, seqLen }));

// Rows measured after blocks free their temporaries and the backward pass frees what it has used (2026-12-05,
// bench --memory-only; files committed with their machine and date), float32 bases.
const MEASURED: Measured[] = [
  ...rowsOf('memory-release-gemma3-270m-t64.json', 'gemma3-270m', gemma, ['lora', 'ptplus'], 64),
  ...rowsOf('memory-release-gemma3-270m-t256.json', 'gemma3-270m', gemma, ['lora', 'ptplus'], 256),
  ...rowsOf('memory-release-smollm2-135m-t256.json', 'smollm2-135m', smollm, ['lora', 'ptplus', 'prefix', 'prompt'], 256),
  ...rowsOf('memory-release-wasm-t64.json', 'smollm-135m', smollm, ['lora'], 64, 'wasm'),
  ...rowsOf('memory-release-wasm-t64.json', 'gpt2-small', gpt2, ['lora'], 64, 'wasm'),
  ...[512, 1024].flatMap((seqLen) => [false, true].map((recompute) => ({ ...rowsOf('memory-release-tiny-4x256-long.json', 'tiny-4x256', tiny, ['lora'], seqLen)[0], recompute }))),
];

interface BenchRow {
  backend: string;
  shape: string;
  method: string;
  seqLen: number;
  batch: number;
  quantizedBase: boolean;
  recompute: boolean;
  peakTensorBytes: number;
}

function measuredPeak(m: Measured, quantizedBase = false): number {
  const { rows } = JSON.parse(readFileSync(join(repoRoot, 'docs/performance', m.file), 'utf8')) as { rows: BenchRow[] };
  const row = rows.find(
    (r) =>
      r.backend === m.backend &&
      r.shape === m.shape &&
      r.method === m.method &&
      r.seqLen === m.seqLen &&
      r.quantizedBase === quantizedBase &&
      r.recompute === (m.recompute ?? false),
  );
  if (!row) throw new Error(`${m.file} has no ${m.shape} ${m.method} T = ${m.seqLen} row`);
  expect(row.batch).toBe(8);
  return row.peakTensorBytes;
}

function estimated(m: Measured): number {
  const methodOptions = getMethod(m.method).options.parse({}) as Record<string, unknown>;
  // Both backends measured here keep transposed copies of the frozen matrices (native on the CPU, wasm).
  // The benchmark scores the second half of each row.
  const shape = { method: m.method, methodOptions, batchSize: 8, maxLength: m.seqLen, scoredPerRow: m.seqLen / 2, weightCopies: 2 as const };
  return estimateRun(m.config, shape, m.recompute ?? false).estimate.totalBytes;
}

describe('memory estimate against measured peaks', () => {
  it.each(MEASURED)('$shape $method T = $seqLen on $backend (recompute: $recompute): within 0.8–1.5× the measured peak tensors', (m) => {
    const ratio = estimated(m) / measuredPeak(m);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.5);
  });

  it('counts no [N, V] logits for a frozen head, and all of them when the head is trained', () => {
    expect(fusesHeadLoss(gemma, 'lora')).toBe(true);
    expect(fusesHeadLoss(gemma, 'full')).toBe(false);
    expect(fusesHeadLoss({ ...gemma, finalLogitSoftcap: 30 } as ModelConfig, 'lora')).toBe(false);
    const lora = getMethod('lora').options.parse({}) as Record<string, unknown>;
    const at = (config: ModelConfig, maxLength: number) => estimateRun(config, { method: 'lora', methodOptions: lora, batchSize: 8, maxLength }).estimate.activationsBytes;
    const capped = { ...gemma, finalLogitSoftcap: 30 } as ModelConfig;
    // The soft-capped head keeps 3·V floats per token under the tape's overhead: gigabytes more at 8 × 256.
    expect(at(capped, 256) - at(gemma, 256)).toBeGreaterThan(8 * 256 * 3 * gemma.vocabSize * 4 * 3);
  });

  it('counts the transposed copies of frozen matrices only where the backend keeps them', () => {
    const lora = getMethod('lora').options.parse({}) as Record<string, unknown>;
    const shape = { method: 'lora' as const, methodOptions: lora, batchSize: 1, maxLength: 16 };
    expect(estimateRun(smollm, { ...shape, weightCopies: 1 }).estimate.weightsBytes).toBe(smollm.parameters * 4);
    expect(estimateRun(smollm, { ...shape, weightCopies: 2 }).estimate.weightsBytes).toBe(2 * smollm.parameters * 4);
    // Full fine-tuning trains the matrices themselves: no frozen copy to keep.
    const full = getMethod('full').options.parse({}) as Record<string, unknown>;
    const fullRun = estimateRun(smollm, { ...shape, method: 'full', methodOptions: full, weightCopies: 2 });
    expect(fullRun.estimate.weightsBytes).toBe((smollm.parameters - fullRun.trainableParams) * 4 * 2);
  });
});

// The quantized base's rows (bench --quantized-base on): the compact blocks live outside tfjs's tensor count,
// so the measured need is the peak of tensors plus the blocks' bytes.
const files = { 'gemma3-270m': join(modelCache, realModels.gemma3.file), 'smollm2-135m': join(modelCache, realModels.smollm2.file) } as const;
const present = Object.values(files).every((path) => existsSync(path));

describe.skipIf(!present)('memory estimate of a quantized base against measured peaks', () => {
  const rows: Measured[] = [
    ...rowsOf('memory-release-gemma3-270m-t64.json', 'gemma3-270m', gemma, ['lora', 'ptplus'], 64),
    ...rowsOf('memory-release-smollm2-135m-t256.json', 'smollm2-135m', smollm, ['lora', 'ptplus'], 256),
  ];
  it.each(rows)('$shape $method T = $seqLen: within 0.8–1.5× the measured tensors plus blocks, and below the float32 estimate', async (m) => {
    const compact = compactWeightsOf(await inspectGguf(files[m.shape as keyof typeof files]));
    expect(compact.embeddingTable).toBe(true);
    const methodOptions = getMethod(m.method).options.parse({}) as Record<string, unknown>;
    const shape = { method: m.method, methodOptions, batchSize: 8, maxLength: m.seqLen, scoredPerRow: m.seqLen / 2, weightCopies: 2 as const };
    const quantized = estimateRun(m.config, { ...shape, compact }).estimate.totalBytes;
    const ratio = quantized / (measuredPeak(m, true) + compact.bytes);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.5);
    // Two float32 copies of every matrix and the embedding clone are gone: over 1 GiB less on either model.
    expect(estimateRun(m.config, shape).estimate.totalBytes - quantized).toBeGreaterThan(2 ** 30);
  });
});
