// Prompt Tuning's initialisation (PEFT's TEXT repeat/truncate, sampled vocabulary rows) and Prefix-Tuning's
// key/value layout and export.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { prefixMethod, prefixOptions } from './prefix';
import { fitToLength, promptMethod, promptOptions, tokenEmbeddingName } from './prompt';
import { maxAbsDiff, tinyModel } from './test-utils';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('prompt tuning init', () => {
  it("repeats or truncates the init text's ids to p, as PEFT does", () => {
    expect(fitToLength([1, 2, 3], 7)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(fitToLength([1, 2, 3], 2)).toEqual([1, 2]);
    expect(() => fitToLength([], 2)).toThrow(/no tokens/);
  });

  it('text init copies the embedding rows of the encoded text; it needs a tokenizer and valid ids', () => {
    const model = tinyModel('llama', 2);
    try {
      const options = promptOptions.parse({ numVirtualTokens: 5, init: 'text', initText: 'hello' });
      const adapter = promptMethod.attach(model, options, { seed: 1, encode: () => [4, 9] });
      const table = model.weights.get(tokenEmbeddingName('llama'))!.arraySync() as number[][];
      const rows = adapter.stateDict().prompt_embeddings;
      expect(Array.from(rows.data)).toEqual(Array.from(Float32Array.from([4, 9, 4, 9, 4].flatMap((id) => table[id]))));
      adapter.dispose();
      expect(() => promptMethod.attach(model, options, { seed: 1 })).toThrow(/tokenizer/);
      expect(() => promptMethod.attach(model, options, { seed: 1, encode: () => [99] })).toThrow(/99/);
    } finally {
      model.dispose();
    }
  });

  it('sample-vocab init takes seeded rows of the vocabulary; random init has the asked std', () => {
    const model = tinyModel('gpt2', 2);
    try {
      const table = model.weights.get(tokenEmbeddingName('gpt2'))!.arraySync() as number[][];
      const sampled = (seed: number): number[][] => {
        const adapter = promptMethod.attach(model, promptOptions.parse({ numVirtualTokens: 6 }), { seed });
        const { data } = adapter.stateDict().prompt_embeddings;
        adapter.dispose();
        return Array.from({ length: 6 }, (_, i) => Array.from(data.slice(i * 16, (i + 1) * 16)));
      };
      const rows = sampled(3);
      for (const row of rows) expect(table.some((vocabRow) => maxAbsDiff(vocabRow, row) === 0)).toBe(true);
      expect(sampled(3)).toEqual(rows);
      const random = promptMethod.attach(model, promptOptions.parse({ numVirtualTokens: 64, init: 'random', randomStd: 0.5 }), { seed: 1 });
      const values = random.stateDict().prompt_embeddings.data;
      random.dispose();
      const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
      expect(std).toBeGreaterThan(0.45);
      expect(std).toBeLessThan(0.55);
    } finally {
      model.dispose();
    }
  });
});

describe('prefix tuning layout', () => {
  it('exports the raw embedding without projection and the MLP output with it, [p, L·2·H_kv·d]', () => {
    const model = tinyModel('llama', 2);
    try {
      const plain = prefixMethod.attach(model, prefixOptions.parse({ numVirtualTokens: 3, projection: false }), { seed: 1 });
      expect(plain.exportPromptEmbeddings()).toEqual(plain.stateDict()['prompt_encoder.embedding.weight']);
      expect(plain.exportPromptEmbeddings().shape).toEqual([3, 2 * 2 * 2 * 4]);
      // PEFT's saved file loads back into a prefix without projection.
      const again = prefixMethod.attach(model, prefixOptions.parse({ numVirtualTokens: 3, projection: false }), { seed: 2 });
      again.loadStateDict({ prompt_embeddings: plain.exportPromptEmbeddings() });
      expect(again.stateDict()).toEqual(plain.stateDict());
      plain.dispose();
      again.dispose();
      const projected = prefixMethod.attach(model, prefixOptions.parse({ numVirtualTokens: 3 }), { seed: 1 });
      expect(projected.exportPromptEmbeddings().shape).toEqual([3, 32]);
      expect(projected.exportConfig()).toMatchObject({ token_dim: 8, num_attention_heads: 2, encoder_hidden_size: 8, num_layers: 2 });
      projected.dispose();
    } finally {
      model.dispose();
    }
  });

  it('the prefix keys of layer ℓ, KV head h are columns ((2ℓ + 0)·H_kv + h)·d … of the embedding', () => {
    const model = tinyModel('llama', 2);
    const adapter = prefixMethod.attach(model, prefixOptions.parse({ numVirtualTokens: 2, projection: false }), { seed: 1 });
    try {
      const embedding = adapter.exportPromptEmbeddings(); // [p, L·2·H_kv·d] = [2, 32]
      const [kvHeads, headDim] = [2, 4];
      tf.tidy(() => {
        for (const layer of [0, 1]) {
          const kv = adapter.hooks.prefixKeyValues!(layer, 1)!;
          const keys = kv.keys.arraySync()[0]; // [H_kv, p, d]
          const values = kv.values.arraySync()[0];
          for (let h = 0; h < kvHeads; h++) {
            for (let t = 0; t < 2; t++) {
              for (let e = 0; e < headDim; e++) {
                expect(keys[h][t][e]).toBe(embedding.data[t * 32 + ((2 * layer + 0) * kvHeads + h) * headDim + e]);
                expect(values[h][t][e]).toBe(embedding.data[t * 32 + ((2 * layer + 1) * kvHeads + h) * headDim + e]);
              }
            }
          }
        }
      });
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });
});
