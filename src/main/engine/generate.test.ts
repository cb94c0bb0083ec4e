import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { generate } from './generate';
import { loadModel, type LoadedModel } from './io/load-model';
import type { CausalLM } from './models/causal-lm';
import { createTinyModel } from './models/tiny-model';
import { argmax, createRng, pickToken } from './sampling';
import { hasStories, stories } from './test-paths';

const HAS_STORIES = hasStories();

beforeAll(async () => {
  await initBackend('wasm');
});

describe('pickToken', () => {
  const logits = Float32Array.from([1, 3, 2, 0.5]);
  const sampling = { isGreedy: false, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 };

  it('greedy takes the first maximum', () => {
    expect(pickToken(logits, [], { ...sampling, isGreedy: true }, Math.random)).toBe(1);
    expect(argmax([2, 5, 5])).toBe(1);
  });

  it('top-k 1 and a tiny top-p both reduce to greedy', () => {
    const rng = createRng(1);
    for (let i = 0; i < 20; i++) {
      expect(pickToken(logits, [], { ...sampling, topK: 1 }, rng)).toBe(1);
      expect(pickToken(logits, [], { ...sampling, topP: 0.01 }, rng)).toBe(1);
    }
  });

  it('top-k 2 samples only the two best, with a seeded, repeatable sequence', () => {
    const draw = (seed: number): number[] => {
      const rng = createRng(seed);
      return Array.from({ length: 50 }, () => pickToken(logits, [], { ...sampling, topK: 2 }, rng));
    };
    const a = draw(42);
    expect(new Set(a)).toEqual(new Set([1, 2]));
    expect(draw(42)).toEqual(a);
    expect(draw(43)).not.toEqual(a);
  });

  it('repetition penalty demotes seen tokens (dividing positive, multiplying negative logits)', () => {
    expect(pickToken(logits, [1], { ...sampling, isGreedy: true, repetitionPenalty: 2 }, Math.random)).toBe(2);
    const negative = Float32Array.from([-1, -1.5]);
    expect(pickToken(negative, [0], { ...sampling, isGreedy: true, repetitionPenalty: 2 }, Math.random)).toBe(1);
  });
});

describe('generate on a tiny model', () => {
  let model: CausalLM;
  beforeAll(() => {
    model = createTinyModel('llama', { seed: 2 });
  });
  afterAll(() => model.dispose());

  it('batched (left-padded) generation equals one prompt at a time', async () => {
    const prompts = [
      [5, 6, 7, 8, 9],
      [11, 3],
    ];
    const batched = await generate(model, prompts, { maxNewTokens: 8 });
    for (let i = 0; i < prompts.length; i++) {
      const single = await generate(model, [prompts[i]], { maxNewTokens: 8 });
      expect(batched.ids[i]).toEqual(single.ids[0]);
    }
  });

  it('stops at an eos id (excluded) and reports why', async () => {
    const free = await generate(model, [[5, 6]], { maxNewTokens: 8 });
    const eos = free.ids[0][3];
    const stopped = await generate(model, [[5, 6]], { maxNewTokens: 8, eosTokenIds: [eos] });
    expect(stopped.ids[0]).toEqual(free.ids[0].slice(0, free.ids[0].indexOf(eos)));
    expect(stopped.finishReasons).toEqual(['eos']);
    expect(free.finishReasons).toEqual(['length']);
  });

  it('stops on a stop string and streams every token', async () => {
    const decode = (ids: number[]): string => ids.map((id) => `<${id}>`).join('');
    const free = await generate(model, [[5, 6]], { maxNewTokens: 8 });
    const streamed: number[] = [];
    const stopped = await generate(model, [[5, 6]], { maxNewTokens: 8, stopStrings: [`<${free.ids[0][2]}>`], decode, onToken: ({ id }) => streamed.push(id) });
    expect(stopped.finishReasons).toEqual(['stop_string']);
    expect(stopped.ids[0]).toEqual(free.ids[0].slice(0, free.ids[0].indexOf(free.ids[0][2]) + 1));
    expect(streamed).toEqual(stopped.ids[0]);
  });

  it('sampling with a seed repeats exactly; different seeds differ', async () => {
    const opts = { maxNewTokens: 12, temperature: 1.5, topK: 20, topP: 0.95, seed: 9 };
    const a = await generate(model, [[5, 6]], opts);
    expect((await generate(model, [[5, 6]], opts)).ids).toEqual(a.ids);
    expect((await generate(model, [[5, 6]], { ...opts, seed: 10 })).ids).not.toEqual(a.ids);
  });

  it('rejects out-of-vocabulary prompt ids', async () => {
    await expect(generate(model, [[5, 999]], { maxNewTokens: 2 })).rejects.toThrow(/outside the vocabulary/);
  });
});

describe.skipIf(!HAS_STORIES)('no tensor leaks (stories260K)', () => {
  let loaded: LoadedModel;

  it('load → generate → dispose returns to the count before load', async () => {
    const before = tf.memory().numTensors;
    const model = await loadModel(stories.hf);
    await generate(model.model, [[1, 403], [1]], { maxNewTokens: 5, temperature: 1, seed: 1 });
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('50 generate calls leave the tensor count unchanged', async () => {
    loaded = await loadModel(stories.hf);
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) {
      const sampled = i % 2 === 1;
      await generate(loaded.model, i % 5 === 0 ? [[1, 403, 407], [1]] : [[1]], {
        maxNewTokens: 4,
        temperature: sampled ? 0.8 : 0,
        topK: sampled ? 10 : 0,
        seed: i,
        eosTokenIds: [1],
      });
    }
    expect(tf.memory().numTensors).toBe(baseline);
    loaded.dispose();
  });
});
