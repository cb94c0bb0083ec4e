// EOS-terminated targets: completion and chat targets end with the model's EOS by default (so a tuned model
// stops), the loss covers it, addEos=false turns it off, and labelled (classification) examples — trained and
// scored by label likelihood — are exactly what they were.
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenPreview } from '../../datasets/stats/token-preview';
import type { DatasetTokenizer } from '../../datasets/stats/tokenize-example';
import { initBackend } from '../backend';
import { evaluateExamples } from '../eval/classify';
import type { TextTokenizer } from '../io/tokenizer';
import { collate } from './batches';
import { trainerOptions } from '@shared/trainer-options';
import { encodeExample } from './encode';
import { tinyModel } from './test-fixtures';

const EOS = 2;

/** Word-level stand-in (as llama2.c: BOS 1, EOS 2): each word is its length + 10; "</s>" is EOS. */
const wordIds = (text: string): number[] =>
  text
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => (w === '</s>' ? EOS : w.length + 10));
const tokenizer = {
  bosTokenId: 1,
  eosTokenId: EOS,
  encode: (text: string, opts?: { addSpecialTokens?: boolean }) => [...(opts?.addSpecialTokens === false ? [] : [1]), ...wordIds(text)],
} as unknown as TextTokenizer;

const datasetTokenizer: DatasetTokenizer = {
  encode: (text, opts) => [...(opts?.addSpecialTokens === false ? [] : [1]), ...wordIds(text)],
  decode: (ids) => ids.map((id) => (id === EOS ? '</s>' : id === 1 ? '<s>' : 'x'.repeat(id - 10))).join(' '),
  eosTokenId: EOS,
};

beforeAll(async () => {
  await initBackend('cpu');
});

describe('EOS at the end of completion and chat targets', () => {
  const { addEos } = trainerOptions.parse({});

  it('is on by default: a completion target ends with EOS, and the loss mask covers it', () => {
    expect(addEos).toBe(true);
    const e = encodeExample(tokenizer, { prompt: 'Q: two plus two\nA:', target: ' four' }, 0, { maxLength: 32, addEos });
    expect(e.ids).toEqual([1, 12, 13, 14, 13, 12, 14, EOS]);
    expect(e.targetStart).toBe(6);
    const batch = collate([e], 0);
    // Position t predicts ids[t + 1]: the last real position before EOS predicts EOS and is in the loss.
    const last = e.ids.length - 2;
    expect(batch.labels[last]).toBe(EOS);
    expect(batch.lossMask[last]).toBe(1);
    expect(batch.targetTokens).toBe(2); // " four" and EOS
  });

  it('ends a chat reply with EOS once, also when the chat template already wrote one', () => {
    const plain = encodeExample(tokenizer, { prompt: 'User: hi\nAssistant:', target: ' hello there' }, 0, { maxLength: 32, addEos });
    expect(plain.ids.slice(plain.targetStart)).toEqual([15, 15, EOS]);
    const templated = encodeExample(tokenizer, { prompt: '<|user|> hi <|assistant|>', target: ' hello </s>' }, 0, { maxLength: 32, addEos });
    expect(templated.ids.slice(templated.targetStart)).toEqual([15, EOS]);
  });

  it('can be turned off (addEos=false): the target is the text alone', () => {
    const off = trainerOptions.parse({ addEos: false });
    const e = encodeExample(tokenizer, { prompt: 'Q: two plus two\nA:', target: ' four' }, 0, { maxLength: 32, addEos: off.addEos });
    expect(e.ids).toEqual([1, 12, 13, 14, 13, 12, 14]);
    expect(collate([e], 0).targetTokens).toBe(1);
  });

  it('keeps the EOS when the prompt is cut to fit maxLength', () => {
    const e = encodeExample(tokenizer, { prompt: 'a bb ccc dddd eeeee', target: ' ok' }, 0, { maxLength: 5, addEos });
    expect(e.ids).toEqual([1, 14, 15, 12, EOS]);
    expect(e.isTruncated).toBe(true);
  });
});

describe('classification (labelled examples) is unchanged', () => {
  const labelled = [
    { id: 'a', prompt: 'the film was great\nLabel:', target: ' good', label: 'good' },
    { id: 'b', prompt: 'the film was dull\nLabel:', target: ' bad', label: 'bad' },
    { id: 'c', prompt: 'what a lovely day\nLabel:', target: ' good', label: 'good' },
  ];

  it('never appends EOS to a labelled target', () => {
    for (const e of labelled) {
      expect(encodeExample(tokenizer, e, 0, { maxLength: 32, addEos: true })).toEqual(encodeExample(tokenizer, e, 0, { maxLength: 32, addEos: false }));
    }
  });

  it('scores labels by likelihood exactly as without EOS (accuracy, scores and eval loss)', async () => {
    const model = tinyModel(3);
    try {
      const opts = { maxLength: 32, batchSize: 4, padId: 0 };
      const on = await evaluateExamples(model, tokenizer, labelled, { ...opts, addEos: true });
      const off = await evaluateExamples(model, tokenizer, labelled, { ...opts, addEos: false });
      expect(on.classification).not.toBeNull();
      expect(on).toEqual(off);
      // An unlabelled example's eval loss does include its EOS (as it was trained).
      const completion = [{ id: 'x', prompt: 'say hi', target: ' hi' }];
      const withEos = await evaluateExamples(model, tokenizer, completion, { ...opts, addEos: true });
      const without = await evaluateExamples(model, tokenizer, completion, { ...opts, addEos: false });
      expect(withEos.evalLoss).not.toBe(without.evalLoss);
    } finally {
      model.dispose();
    }
  });
});

describe('token preview', () => {
  it('shows the EOS as a trained target token of a completion, and none for a labelled example', () => {
    const preview = tokenPreview(datasetTokenizer, { prompt: 'Q: two plus two\nA:', target: ' four' });
    expect(preview.tokens.map((t) => t.id)).toEqual([1, 12, 13, 14, 13, 12, 14, EOS]);
    expect(preview.tokens[preview.tokens.length - 1]).toEqual({ id: EOS, text: '</s>', isPrompt: false });
    expect(preview.targetTokens).toBe(2);
    const labelled = tokenPreview(datasetTokenizer, { prompt: 'great\nLabel:', target: ' good', label: 'good' });
    expect(labelled.tokens.map((t) => t.id)).not.toContain(EOS);
    expect(tokenPreview(datasetTokenizer, { prompt: 'Q: two plus two\nA:', target: ' four' }, { addEos: false }).targetTokens).toBe(1);
  });

  it('marks the same tokens trained as the trainer encodes', () => {
    const example = { prompt: 'User: hi\nAssistant:', target: ' hello there' };
    const preview = tokenPreview(datasetTokenizer, example);
    const encoded = encodeExample(tokenizer, example, 0, { maxLength: 64, addEos: true });
    expect(preview.tokens.map((t) => t.id)).toEqual(encoded.ids);
    expect(preview.promptTokens).toBe(encoded.targetStart);
  });
});
