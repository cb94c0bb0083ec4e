// The quantized frozen base (loadGguf's quantizedBase, quantized-linear.ts): the layers' linear matrices and the
// embedding table (the tied LM head too) stay as their GGUF blocks and are dequantized inside each product or
// lookup, and training on it gives exactly (bit for bit) the
// losses and adapter values of the dequantize-at-load base, for LoRA and PT+ (with and without activation
// recomputation) and Prompt Tuning initialised from vocabulary rows, on the tiny Q8_0 fixtures of three layouts (qwen2: out_in; gpt2: Conv1D in_out, transposed in
// the file; gemma3) and, when cached, on the real SmolLM2-135M (Q4_1, llama's permuted Q/K rows).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainerOptions } from '@shared/trainer-options';
import { initBackend, probeBackends } from '../../backend';
import type { StateDict } from '../../methods/method';
import { getMethod } from '../../methods/registry';
import { type BaseCausalLM, type CausalLM } from '../../models/causal-lm';
import { modelCache, realModels, repoRoot } from '../../test-paths';
import type { EncodedExample } from '../../train/encode';
import { toyExamples } from '../../train/test-fixtures';
import { Trainer } from '../../train/trainer';
import { inspectGguf, loadGguf } from './gguf-model';

beforeAll(async () => {
  await initBackend('cpu');
});

const tiny = (arch: string): string => join(repoRoot, 'tests/fixtures/gguf/tiny', `${arch}.Q8_0.gguf`);

async function load(path: string, quantizedBase: boolean): Promise<CausalLM> {
  return (await loadGguf(path, { quantizedBase })).model;
}

interface Outcome {
  losses: number[];
  state: StateDict;
}

async function train(
  path: string,
  quantizedBase: boolean,
  method: string,
  options: Record<string, unknown>,
  examples: EncodedExample[],
  recompute: 'on' | 'off',
): Promise<Outcome> {
  const model = await load(path, quantizedBase);
  const definition = getMethod(method);
  const adapter = definition.attach(model, definition.options.parse(options) as never, { seed: 5 });
  const plan = { ...trainerOptions.parse({ batchSize: 4, checkpointEvery: 0, evalEvery: 0, warmupSteps: 1, recompute }), learningRate: 0.05, totalSteps: 3, seed: 3 };
  const trainer = new Trainer({ runId: 'quantized-base', model, adapter, examples, plan, padId: 0, checkpointRoot: null });
  try {
    const outcome = await trainer.run();
    expect(outcome.status).toBe('finished');
    return { losses: outcome.losses, state: adapter.stateDict() };
  } finally {
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  }
}

/** Bit-for-bit equal losses and trained values. */
function expectIdentical(quantized: Outcome, float: Outcome): void {
  expect(float.losses.length).toBe(3);
  expect(float.losses[2]).not.toBe(float.losses[0]); // training moved the values
  expect(quantized.losses).toEqual(float.losses);
  expect(Object.keys(quantized.state).sort()).toEqual(Object.keys(float.state).sort());
  for (const [name, { data }] of Object.entries(float.state)) {
    const other = quantized.state[name].data;
    let differing = 0;
    for (let i = 0; i < data.length; i++) if (!Object.is(other[i], data[i])) differing++;
    expect(differing, name).toBe(0);
  }
}

function examplesFor(vocab: number): EncodedExample[] {
  return toyExamples(8).map((e) => ({ ...e, ids: e.ids.map((id) => id % vocab) }));
}

describe('quantized frozen base (tiny Q8_0 GGUF fixtures)', () => {
  it('keeps the layers’ linear matrices as blocks (not in weights) and gives the float32 base’s logits exactly', async () => {
    for (const arch of ['qwen2', 'gpt2', 'gemma3']) {
      const float = await load(tiny(arch), false);
      const quantized = await load(tiny(arch), true);
      try {
        const kept = (quantized as BaseCausalLM<never>).quantizedBase();
        expect(kept.names.length, arch).toBeGreaterThan(0);
        expect(kept.names, arch).toContain(arch === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
        expect(
          kept.names.every((name) => !quantized.weights.has(name) && float.weights.has(name)),
          arch,
        ).toBe(true);
        expect((float as BaseCausalLM<never>).quantizedBase().names).toEqual([]);
        // Q8_0 blocks: 34 bytes per 32 values, against 128 as float32.
        const floatBytes = kept.names.reduce((sum, name) => sum + float.weights.get(name)!.size * 4, 0);
        expect(kept.bytes).toBe((floatBytes / 128) * 34);
        const ids = tf.tensor2d([[1, 5, 9, 3, 7, 2]], [1, 6], 'int32');
        const [a, b] = [float.forward(ids), quantized.forward(ids)];
        expect(Array.from(b.dataSync()), arch).toEqual(Array.from(a.dataSync()));
        tf.dispose([ids, a, b]);
      } finally {
        float.dispose();
        quantized.dispose();
      }
    }
  });

  it('refuses to make a quantized matrix trainable (full fine-tuning keeps float32)', async () => {
    const quantized = await load(tiny('qwen2'), true);
    try {
      const name = (quantized as BaseCausalLM<never>).quantizedBase().names[0];
      expect(() => quantized.makeTrainable([name])).toThrow(/kept quantized/);
    } finally {
      quantized.dispose();
    }
  });

  const runs: [string, string, Record<string, unknown>, 'on' | 'off'][] = [
    ['qwen2', 'lora', { dropout: 0.2, targets: 'all-linear' }, 'off'],
    ['qwen2', 'ptplus', { memoryInitStd: 0.01 }, 'off'],
    ['qwen2', 'lora', { dropout: 0.2, targets: 'all-linear' }, 'on'],
    ['qwen2', 'ptplus', { memoryInitStd: 0.01 }, 'on'],
    ['qwen2', 'prefix', { numVirtualTokens: 3 }, 'off'],
    ['qwen2', 'prompt', { numVirtualTokens: 3, init: 'sample-vocab' }, 'off'],
    ['gpt2', 'lora', { dropout: 0, targets: 'all-linear' }, 'off'],
    ['gemma3', 'ptplus', { memoryInitStd: 0.01 }, 'off'],
  ];
  for (const [arch, method, options, recompute] of runs) {
    it(`${arch} ${method} ${JSON.stringify(options)} recompute ${recompute}: 3 steps, identical losses and adapter values`, async () => {
      const float = await load(tiny(arch), false);
      const vocab = float.config.vocabSize;
      float.dispose();
      const examples = examplesFor(vocab);
      const a = await train(tiny(arch), false, method, options, examples, recompute);
      const b = await train(tiny(arch), true, method, options, examples, recompute);
      expectIdentical(b, a);
    });
  }
});

// wasm and native TensorFlow take the other product forms (kept transposed copies, no transpose flags).
const fastBackends = (await probeBackends()).filter((b) => b.available && (b.name === 'wasm' || b.name === 'tensorflow')).map((b) => b.name);

describe.skipIf(!fastBackends.length)('quantized frozen base on the wasm and native backends', () => {
  it(`${fastBackends.join(', ')}: LoRA and PT+ on qwen2, 3 steps, identical losses and adapter values`, async () => {
    try {
      for (const backend of fastBackends) {
        await initBackend(backend);
        const examples = examplesFor((await inspectGguf(tiny('qwen2'))).config.vocabSize);
        for (const [method, options] of [
          ['lora', { dropout: 0.2, targets: 'all-linear' }],
          ['ptplus', { memoryInitStd: 0.01 }],
        ] as const) {
          const a = await train(tiny('qwen2'), false, method, options, examples, 'off');
          const b = await train(tiny('qwen2'), true, method, options, examples, 'off');
          expectIdentical(b, a);
        }
      }
    } finally {
      await initBackend('cpu');
    }
  }, 120_000);
});

const smollm2 = join(modelCache, realModels.smollm2.file);
const hasSmollm2 = existsSync(smollm2) && statSync(smollm2).size === realModels.smollm2.size;
if (!hasSmollm2) console.warn(`skipping the quantized-base SmolLM2 check: ${smollm2} absent (python3 scripts/models/fetch-models.py fetches it)`);

// The cpu backend's reference kernels take minutes for a 135M model: native TensorFlow (or wasm) runs it.
const realBackend = fastBackends.includes('tensorflow') ? 'tensorflow' : fastBackends[0];
if (hasSmollm2 && !realBackend) console.warn('skipping the quantized-base SmolLM2 check: neither native TensorFlow nor wasm loads here');

describe.skipIf(!hasSmollm2 || !realBackend)('quantized frozen base on the real SmolLM2-135M (Q4_1)', () => {
  it(`LoRA and PT+ on ${realBackend}, 3 steps: identical losses and adapter values`, async () => {
    try {
      await initBackend(realBackend!);
      const examples = toyExamples(8);
      for (const [method, options] of [
        ['lora', { dropout: 0 }],
        ['ptplus', { memoryInitStd: 0.01 }],
      ] as const) {
        const a = await train(smollm2, false, method, options, examples, 'off');
        const b = await train(smollm2, true, method, options, examples, 'off');
        expectIdentical(b, a);
      }
    } finally {
      await initBackend('cpu');
    }
  }, 300_000);
});
