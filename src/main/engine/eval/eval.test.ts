// Evaluation on stories260K: scores do not depend on batching or padding; label-likelihood classification
// picks the best mean log-prob per token; exact match; the mean NLL on TinyStories text; base vs tuned; the
// prefix attention-mass and PT+ memory-ratio diagnostics.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { loadModel, type LoadedModel } from '../io/load-model';
import type { TextTokenizer } from '../io/tokenizer';
import { getMethod } from '../methods/registry';
import { encodeExample } from '../train/encode';
import { hasStoriesHf, sharedDir, storiesHf } from '../train/test-fixtures';
import { prefixAttentionMass, ptplusMemoryRatio } from './attention-mass';
import { evaluateExamples, labelVerbalisations } from './classify';
import { baseVsTuned, exactMatch, normaliseAnswer } from './generation';
import { meanNll, scoreSequences } from './score';

const isAvailable = hasStoriesHf();
let loaded: LoadedModel;
let tokenizer: TextTokenizer;

beforeAll(async () => {
  await initBackend('cpu');
  if (!isAvailable) return;
  loaded = await loadModel(storiesHf);
  tokenizer = loaded.tokenizer!;
});
afterAll(() => loaded?.dispose());

describe('answer normalisation', () => {
  it('trims, collapses whitespace and case-folds', () => {
    expect(normaliseAnswer('  The  Cat\n sat \t')).toBe('the cat sat');
  });
});

describe.skipIf(!isAvailable)('evaluation on stories260K', () => {
  const examples = [
    { id: 'a', prompt: 'Lily saw the sun. She was', target: ' happy', label: 'happy' },
    { id: 'b', prompt: 'Tom lost his toy. He was', target: ' sad', label: 'sad' },
    { id: 'c', prompt: 'The dog ran in the park. It was', target: ' happy', label: 'happy' },
    { id: 'd', prompt: 'Once upon a time there was a little girl. She felt very', target: ' sad', label: 'sad' },
  ];

  it('scores the same whether sequences are batched with padding or alone', async () => {
    const encoded = examples.map((e, i) => encodeExample(tokenizer, e, i, { maxLength: 64, addEos: false }));
    const batched = await scoreSequences(loaded.model, encoded, { batchSize: 4, padId: 0 });
    const alone = await scoreSequences(loaded.model, encoded, { batchSize: 1, padId: 0 });
    batched.forEach((s, i) => {
      expect(s.tokens).toBe(alone[i].tokens);
      expect(s.sumLogProb).toBeCloseTo(alone[i].sumLogProb, 4);
      expect(s.sumLogProb).toBeLessThan(0);
    });
  });

  it('equals log-softmax of the full logits at the target positions (the LM head runs on those rows only)', async () => {
    const encoded = examples.map((e, i) => encodeExample(tokenizer, e, i, { maxLength: 64, addEos: false }));
    const scores = await scoreSequences(loaded.model, encoded, { batchSize: 4, padId: 0 });
    for (const [i, e] of encoded.entries()) {
      const logProbs = tf.tidy(() => tf.logSoftmax(loaded.model.forward(tf.tensor2d([e.ids], [1, e.ids.length], 'int32')).squeeze([0]) as tf.Tensor2D).arraySync() as number[][]);
      let sum = 0;
      for (let t = e.targetStart; t < e.ids.length; t++) sum += logProbs[t - 1][e.ids[t]];
      expect(scores[i].tokens).toBe(e.ids.length - e.targetStart);
      expect(scores[i].sumLogProb).toBeCloseTo(sum, 4);
    }
  });

  it('scores on the wasm backend too (no kernel that wasm lacks), with the same values as cpu', async () => {
    const encoded = examples.map((e, i) => encodeExample(tokenizer, e, i, { maxLength: 64, addEos: false }));
    const onCpu = await scoreSequences(loaded.model, encoded, { batchSize: 4, padId: 0 });
    await initBackend('wasm');
    const wasmModel = await loadModel(storiesHf);
    try {
      const onWasm = await scoreSequences(wasmModel.model, encoded, { batchSize: 4, padId: 0 });
      onWasm.forEach((s, i) => expect(s.sumLogProb).toBeCloseTo(onCpu[i].sumLogProb, 3));
    } finally {
      wasmModel.dispose();
      await initBackend('cpu');
    }
  });

  it('classifies by the highest mean log-prob per token of each label, with per-class accuracy and confusion', async () => {
    const report = await evaluateExamples(loaded.model, tokenizer, examples, { maxLength: 64, addEos: false, batchSize: 8, padId: 0 });
    const c = report.classification!;
    expect(c.labels).toEqual(['happy', 'sad']);
    for (const [i, p] of c.predictions.entries()) {
      // Recompute each label's score on its own.
      const means = await Promise.all(
        c.labels.map(async (label) => {
          const e = encodeExample(tokenizer, { prompt: examples[i].prompt, target: labelVerbalisations(examples)[label] }, 0, { maxLength: 64, addEos: false });
          const [s] = await scoreSequences(loaded.model, [e], { batchSize: 1, padId: 0 });
          return s.sumLogProb / s.tokens;
        }),
      );
      means.forEach((m, j) => expect(p.scores[j]).toBeCloseTo(m, 4));
      expect(p.predicted).toBe(c.labels[means[0] >= means[1] ? 0 : 1]);
    }
    const correct = c.predictions.filter((p) => p.predicted === p.label).length;
    expect(c.accuracy).toBe(correct / 4);
    expect(c.confusion.flat().reduce((a, b) => a + b)).toBe(4);
    expect(c.confusion[0][0] + c.confusion[0][1]).toBe(2);
    expect(c.perClassAccuracy.happy).toBe(c.confusion[0][0] / 2);
    expect(report.evalLoss).toBeGreaterThan(0);
  });

  it('exact match counts greedy continuations equal to the target after normalisation', async () => {
    const prompts = ['Once upon a time', 'Lily and Tom'];
    const first = await exactMatch(
      loaded.model,
      tokenizer,
      prompts.map((prompt, i) => ({ id: String(i), prompt, target: 'x' })),
      { maxNewTokens: 5 },
    );
    expect(first.exactMatch).toBe(0);
    const targets = first.predictions.map((p) => `  ${p.generated.toUpperCase()} `);
    const second = await exactMatch(
      loaded.model,
      tokenizer,
      prompts.map((prompt, i) => ({ id: String(i), prompt, target: targets[i] })),
      { maxNewTokens: 5 },
    );
    expect(second.exactMatch).toBe(1);
    // A chat template's target ends with the end-of-turn token as text; generation stops there and decodes
    // without it, so the target is compared as the tokenizer decodes it (special tokens dropped).
    const eos = '</s>';
    expect(tokenizer.encode(eos, { addSpecialTokens: false })).toEqual([tokenizer.eosTokenId]);
    const third = await exactMatch(
      loaded.model,
      tokenizer,
      prompts.map((prompt, i) => ({ id: String(i), prompt, target: `${first.predictions[i].generated}${eos}\n` })),
      { maxNewTokens: 5 },
    );
    expect(third.exactMatch).toBe(1);
  });

  it('the mean NLL on TinyStories validation text is near the published 1.34 nats/token', async () => {
    const text = readFileSync(join(sharedDir, 'datasets/tinystories_val_sample/tinystories_val.txt'), 'utf8');
    const stories = text
      .split(/\n\s*\n/)
      .filter((s) => s.trim().length > 200)
      .slice(0, 2);
    // Consecutive 96-token windows of each story; every token after a window's first is scored.
    const windows = stories.flatMap((story) => {
      const ids = tokenizer.encode(story);
      return Array.from({ length: Math.ceil(ids.length / 96) }, (_, i) => ({ ids: ids.slice(i * 96, (i + 1) * 96), targetStart: 1 })).filter((w) => w.ids.length >= 2);
    });
    const scores = await scoreSequences(loaded.model, windows, { batchSize: 8, padId: 0 });
    const nllPerToken = meanNll(scores);
    expect(scores.reduce((sum, s) => sum + s.tokens, 0)).toBeGreaterThan(100);
    expect(nllPerToken).toBeGreaterThan(0.9);
    expect(nllPerToken).toBeLessThan(1.9);
  });

  it('base vs tuned: a zero-initialised PT+ adapter generates exactly what the base model does', async () => {
    const definition = getMethod('ptplus');
    const adapter = definition.attach(loaded.model, definition.options.parse({}) as never, { seed: 0 });
    try {
      const rows = await baseVsTuned(loaded.model, tokenizer, adapter.hooks, ['Once upon a time', 'The cat'], { maxNewTokens: 6 });
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row.tuned).toBe(row.base);
        expect(row.base.length).toBeGreaterThan(0);
      }
    } finally {
      adapter.dispose();
    }
  });

  it('prefix attention mass α is a share in [0, 1] per layer and position', async () => {
    const definition = getMethod('prefix');
    const adapter = definition.attach(loaded.model, definition.options.parse({ numVirtualTokens: 4 }) as never, { seed: 0 });
    try {
      const profile = await prefixAttentionMass(loaded.model, adapter, tokenizer, ['Once upon a time, there was a dog.', 'Tom and Lily played.'], { maxLength: 32 });
      expect(profile.prefixLength).toBe(4);
      expect(profile.byLayer).toHaveLength(5);
      expect(profile.counts[0]).toBe(2);
      for (const row of profile.byLayer) {
        expect(row.length).toBe(profile.counts.length);
        for (const alpha of row) {
          expect(alpha).toBeGreaterThan(0);
          expect(alpha).toBeLessThan(1);
        }
      }
    } finally {
      adapter.dispose();
    }
  });

  it('PT+ memory ratio is 0 for M = 0 and scales linearly with M in the first adapted layer', async () => {
    const definition = getMethod('ptplus');
    const adapter = definition.attach(loaded.model, definition.options.parse({ layers: [0, 2], memoryInitStd: 0.05 }) as never, { seed: 1 });
    try {
      const texts = ['Once upon a time, there was a dog.'];
      const profile = await ptplusMemoryRatio(loaded.model, adapter, tokenizer, texts);
      expect(profile.layerMeans[0]).toBeGreaterThan(0);
      expect(profile.layerMeans[2]).toBeGreaterThan(0);
      expect(Number.isNaN(profile.layerMeans[1])).toBe(true);
      const state = adapter.stateDict();
      const doubled = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, { shape: v.shape, data: v.data.map((x) => 2 * x) }]));
      adapter.loadStateDict(doubled);
      const twice = await ptplusMemoryRatio(loaded.model, adapter, tokenizer, texts);
      twice.byLayer[0].forEach((r, i) => expect(r).toBeCloseTo(2 * profile.byLayer[0][i], 4));
      const zero = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, { shape: v.shape, data: new Float32Array(v.data.length) }]));
      adapter.loadStateDict(zero);
      expect((await ptplusMemoryRatio(loaded.model, adapter, tokenizer, texts)).layerMeans[0]).toBe(0);
    } finally {
      adapter.dispose();
    }
  });
});
