// The dataset code takes the engine's tokenizer as it is (no adapter per caller): the token preview of a
// loaded model's tokenizer shows special tokens by name and appends its EOS where the trainer does.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../engine/io/load-model';
import type { TextTokenizer } from '../../engine/io/tokenizer';
import { encodeExample } from '../../engine/train/encode';
import { previewTokens } from '../../services/dataset-service';
import { hasStoriesTokenizer, sharedDir } from '../testing/test-data';

describe.skipIf(!hasStoriesTokenizer())('the engine tokenizer in the dataset code (needs ../shared/models)', () => {
  let tokenizer: TextTokenizer | null;
  beforeAll(async () => {
    ({ tokenizer } = await loadTokenizer(join(sharedDir, 'models/stories260K-hf')));
  });

  it('previews BOS and EOS by name, and the ids the trainer encodes', () => {
    const example = { prompt: 'Once upon a time', target: ' there was a dog.' };
    const preview = previewTokens(example, tokenizer!);
    expect(preview.tokens[0]).toEqual({ id: 1, text: '<s>', isPrompt: true });
    expect(preview.tokens[preview.tokens.length - 1]).toEqual({ id: 2, text: '</s>', isPrompt: false });
    const encoded = encodeExample(tokenizer!, example, 0, { maxLength: 512, addEos: true });
    expect(preview.tokens.map((t) => t.id)).toEqual(encoded.ids);
    expect(preview.promptTokens).toBe(encoded.targetStart);
  });

  it('a labelled example gets no EOS, as in training', () => {
    const preview = previewTokens({ prompt: 'great movie\nLabel:', target: ' positive', label: 'positive' }, tokenizer!);
    expect(preview.tokens.some((t) => t.id === 2)).toBe(false);
  });
});
