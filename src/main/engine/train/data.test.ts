// The data path: seeded generator, tokenisation and truncation, batching, masked loss, the frozen split.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import type { TextTokenizer } from '../io/tokenizer';
import { batchesPerEpoch, collate, planEpoch } from './batches';
import { trainerOptions } from '@shared/trainer-options';
import { splitSettings } from '../../cli/run-spec-flags';
import { encodeExample, truncatePair } from './encode';
import { targetNll } from './loss';
import { Rng } from '../../platform/rng';
import { splitExamples, useGivenSplit } from '../../datasets/splits/make-split';
import { getMethod } from '../methods/registry';
import { tinyModel, toyExamples } from './test-fixtures';
import { z } from 'zod';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('Rng', () => {
  it('repeats for a seed, differs between seeds, and continues from a saved state', () => {
    const a = Rng.fromSeed(42);
    const b = Rng.fromSeed(42);
    const first = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(first);
    expect(Rng.fromSeed(43).nextUint32()).not.toBe(first[0]);
    const saved = a.state();
    const continued = Array.from({ length: 5 }, () => a.next());
    const restored = Rng.fromState(saved);
    expect(Array.from({ length: 5 }, () => restored.next())).toEqual(continued);
    const shuffled = Rng.fromSeed(1).shuffle([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...shuffled].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('tokenising an example', () => {
  /** Word-level stand-in: BOS 1, each word its length + 10; the joint encoding equals the concatenation. */
  const tokenizer = {
    bosTokenId: 1,
    eosTokenId: 2,
    encode: (text: string, opts?: { addSpecialTokens?: boolean }) => [
      ...(opts?.addSpecialTokens === false ? [] : [1]),
      ...text
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => w.length + 10),
    ],
  } as unknown as TextTokenizer;

  it('puts prompt tokens (with BOS) before target tokens and appends EOS when asked', () => {
    const e = encodeExample(tokenizer, { prompt: 'a bb ccc', target: ' dddd' }, 0, { maxLength: 32, addEos: true });
    expect(e.ids).toEqual([1, 11, 12, 13, 14, 2]);
    expect(e.targetStart).toBe(4);
    expect(e.isTruncated).toBe(false);
  });

  it('truncates from the left of the prompt, keeping BOS and the whole target', () => {
    expect(truncatePair([1, 5, 6, 7, 8], [20, 21], 5, 1)).toEqual({ ids: [1, 7, 8, 20, 21], targetStart: 3, isTruncated: true });
    expect(truncatePair([5, 6, 7, 8], [20, 21], 4, 1)).toEqual({ ids: [7, 8, 20, 21], targetStart: 2, isTruncated: true });
    // A target longer than the limit keeps one prompt token before it and loses its own tail.
    expect(truncatePair([1, 5, 6], [20, 21, 22, 23], 3, 1)).toEqual({ ids: [1, 20, 21], targetStart: 1, isTruncated: true });
  });
});

describe('batching', () => {
  const examples = toyExamples(10);

  it('right-pads, masks padding and scores only target positions', () => {
    const batch = collate([examples[0], examples[1]], 0);
    expect(batch.seqLen).toBe(Math.max(examples[0].ids.length, examples[1].ids.length));
    for (let row = 0; row < 2; row++) {
      const e = examples[row];
      for (let t = 0; t < batch.seqLen; t++) {
        const i = row * batch.seqLen + t;
        expect(batch.attentionMask[i]).toBe(t < e.ids.length ? 1 : 0);
        expect(batch.lossMask[i]).toBe(t + 1 >= e.targetStart && t + 1 < e.ids.length ? 1 : 0);
      }
    }
    expect(batch.targetTokens).toBe(2);
  });

  it('by size: every example once per epoch; by token budget: rows × longest ≤ budget', () => {
    const bySize = planEpoch(examples, { batchSize: 3, batchTokens: null }, Rng.fromSeed(0));
    expect(bySize.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(bySize.flat().sort((a, b) => a - b)).toEqual([...examples.keys()]);
    const byTokens = planEpoch(examples, { batchSize: 1, batchTokens: 20 }, Rng.fromSeed(0));
    for (const batch of byTokens) expect(batch.length * Math.max(...batch.map((i) => examples[i].ids.length))).toBeLessThanOrEqual(20);
    expect(byTokens.flat().sort((a, b) => a - b)).toEqual([...examples.keys()]);
    expect(byTokens.length).toBe(batchesPerEpoch(examples, { batchSize: 1, batchTokens: 20 }));
  });
});

describe('masked cross-entropy', () => {
  it('equals −log softmax at the target positions and ignores prompt-token labels', async () => {
    const model = tinyModel();
    const examples = toyExamples(3);
    const batch = collate(examples, 0);
    const ids = tf.tensor2d(batch.inputIds, [batch.batchSize, batch.seqLen], 'int32');
    const logits = model.forward(ids, { attentionMask: tf.tensor2d(batch.attentionMask, [batch.batchSize, batch.seqLen], 'int32') });
    const nll = Array.from(await targetNll(logits, batch).data());
    // Reference: full log-softmax, picked by hand.
    const logProbs = (await tf.logSoftmax(logits).array()) as number[][][];
    const expected: number[] = [];
    for (let i = 0; i < batch.lossMask.length; i++) {
      if (!batch.lossMask[i]) continue;
      const row = Math.floor(i / batch.seqLen);
      expected.push(-logProbs[row][i % batch.seqLen][batch.labels[i]]);
    }
    nll.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));

    // Changing the label of a prompt position changes nothing; changing a target label does.
    const promptPosition = batch.lossMask.findIndex((m, i) => m === 0 && batch.attentionMask[i] === 1);
    const edited = { ...batch, labels: batch.labels.slice() };
    edited.labels[promptPosition] = (edited.labels[promptPosition] + 7) % 64;
    expect(Array.from(await targetNll(logits, edited).data())).toEqual(nll);
    const targetPosition = batch.lossMask.indexOf(1);
    edited.labels[targetPosition] = (edited.labels[targetPosition] + 1) % 64;
    expect(Array.from(await targetNll(logits, edited).data())[0]).not.toBeCloseTo(nll[0], 3);
    tf.dispose([ids, logits]);
    model.dispose();
  });

  it('stays finite for huge logits (log-sum-exp is stabilised)', async () => {
    const batch = collate([{ ids: [1, 5, 6], targetStart: 2 }], 0);
    // Position 1 predicts the target token 6.
    const logits = tf.tensor3d([
      [
        [0, 0, 0, 0, 0, 0, 0],
        [1e4, -1e4, 0, 5e3, 0, 0, 9e3],
        [3e4, 0, 0, 0, 0, 0, 0],
      ],
    ]);
    const nll = Array.from(await targetNll(logits as tf.Tensor3D, batch).data());
    expect(nll).toHaveLength(1);
    expect(nll[0]).toBeCloseTo(1000, 2); // log-sum-exp ≈ 1e4 minus the label's 9e3
    logits.dispose();
  });
});

describe('frozen split', () => {
  const examples = Array.from({ length: 40 }, (_, i) => ({ id: String(i), label: i % 2 ? 'a' : 'b' }));

  it('holds out the same stratified eval ids whatever the training seed; k-shot sets follow the seed', () => {
    const one = splitExamples(examples, { splitSeed: 0, evalSplit: 0.25, kPerClass: 2, seed: 1 });
    const two = splitExamples(examples, { splitSeed: 0, evalSplit: 0.25, kPerClass: 2, seed: 2 });
    expect(one.evalIds).toEqual(two.evalIds);
    expect(one.evalIds.length).toBe(10);
    expect(one.trainIds.length).toBe(4);
    expect(one.trainIds.filter((id) => one.evalIds.includes(id))).toEqual([]);
    expect(one.trainIds).not.toEqual(two.trainIds);
    expect(() => splitExamples(examples, { splitSeed: 0, evalSplit: 0.25, kPerClass: 50, seed: 1 })).toThrow(/fewer than kPerClass/);
  });

  it('uses a given split as is, drawing k per class from its train ids', () => {
    const given = { trainIds: ['0', '1', '2', '3', '4', '5'], evalIds: ['30', '31'] };
    expect(useGivenSplit(examples, given, null, 0)).toEqual(given);
    const shot = useGivenSplit(examples, given, 1, 0);
    expect(shot.trainIds).toHaveLength(2);
    expect(shot.evalIds).toEqual(['30', '31']);
    expect(() => useGivenSplit(examples, { trainIds: ['99'], evalIds: [] }, null, 0)).toThrow(/split id 99/);
  });
});

describe('--set parsing', () => {
  it('routes keys to the method or the trainer and coerces their types', () => {
    const methodSchema = z.object({ rank: z.number().int().default(8), targets: z.array(z.string()).default([]), init: z.enum(['a', 'b']).default('a') });
    const { method, trainer } = splitSettings({ rank: '4', targets: 'q_proj,v_proj', 'train.batchSize': '2', addEos: 'true', batchTokens: 'null' }, methodSchema, 'lora');
    expect(method).toEqual({ rank: 4, targets: ['q_proj', 'v_proj'] });
    expect(trainerOptions.parse(trainer)).toMatchObject({ batchSize: 2, addEos: true, batchTokens: null });
    expect(() => splitSettings({ nope: '1' }, methodSchema, 'lora')).toThrow(/unknown option "nope".*rank.*batchSize/);
    // A real method schema (with refinements): PT+ options by name, layers as a list.
    const ptplus = getMethod('ptplus');
    const parsed = splitSettings({ featureMap: 'gelu', layers: '0,2', 'train.clipNorm': '0' }, ptplus.options, 'ptplus');
    expect(ptplus.options.parse(parsed.method)).toMatchObject({ featureMap: 'gelu', layers: [0, 2] });
    expect(parsed.trainer).toEqual({ clipNorm: 0 });
  });
});
