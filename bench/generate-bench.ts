// `npm run bench -- generate`: prompt (prefill) and decoding tokens/s with the KV cache, peak tensor memory,
// per model shape and backend, next to PyTorch's `generate` on the same shape where it is available.
import * as tf from '@tensorflow/tfjs';
import { initBackend, probeBackends, type BackendName } from '../src/main/engine/backend';
import { generate } from '../src/main/engine/generate';
import { loadModel } from '../src/main/engine/io/load-model';
import { createRandomModel } from '../src/main/engine/models/random-init';
import type { CausalLM } from '../src/main/engine/models/causal-lm';
import { SHAPES, type ShapeSpec } from './shapes';
import { torchReference } from './torch-reference';

export interface GenerateRow {
  model: string;
  backend: BackendName;
  promptTokens: number;
  newTokens: number;
  promptTokensPerSecond: number;
  generatedTokensPerSecond: number;
  peakTensorBytes: number;
  peakRssBytes: number;
  reference?: { name: string; tokensPerSecond: number };
}

async function buildModel(shape: ShapeSpec): Promise<CausalLM> {
  if (shape.path) return (await loadModel(shape.path)).model;
  return createRandomModel(shape.config!, 1);
}

function randomIds(count: number, vocab: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return 3 + (state % (vocab - 3));
  });
}

export async function benchGenerate(opts: {
  backends: BackendName[];
  shapes: string[];
  promptTokens: number;
  newTokens: number;
  reference: boolean;
  threads?: number;
}): Promise<GenerateRow[]> {
  const rows: GenerateRow[] = [];
  const available = new Set((await probeBackends()).filter((b) => b.available).map((b) => b.name));
  for (const shape of SHAPES.filter((s) => (opts.shapes.length === 0 && !s.explicitOnly) || opts.shapes.includes(s.name))) {
    for (const backend of opts.backends.filter((b) => available.has(b))) {
      await initBackend(backend);
      const model = await buildModel(shape);
      const prompt = randomIds(opts.promptTokens, model.config.vocabSize, 7);
      const run = (newTokens: number) => generate(model, [prompt], { maxNewTokens: newTokens, greedy: true, eosTokenIds: [] });
      await run(2); // warm-up: kernel compilation, first allocations
      const prefill = await run(1);
      const full = await run(opts.newTokens + 1);
      let peakRss = process.memoryUsage().rss;
      const profile = await tf.profile(async () => {
        await run(4);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      });
      const decodeMs = Math.max(1e-6, full.elapsedMs - prefill.elapsedMs);
      const row: GenerateRow = {
        model: shape.name,
        backend,
        promptTokens: prompt.length,
        newTokens: opts.newTokens,
        promptTokensPerSecond: (prompt.length / prefill.elapsedMs) * 1000,
        generatedTokensPerSecond: (opts.newTokens / decodeMs) * 1000,
        peakTensorBytes: profile.peakBytes,
        peakRssBytes: peakRss,
      };
      model.dispose();
      if (opts.reference) {
        const ref = torchReference({ task: 'generate', shape, promptTokens: prompt.length, newTokens: opts.newTokens }, opts.threads);
        if (ref) row.reference = { name: ref.name, tokensPerSecond: ref.tokensPerSecond };
      }
      rows.push(row);
      console.error(`  ${shape.name} on ${backend}: ${row.generatedTokensPerSecond.toFixed(1)} generated tokens/s`);
    }
  }
  return rows;
}
