// The ReDoS check of tokenizer.json patterns: exponential ones refused (before the library runs them), the
// patterns of real tokenizers (GPT-2 style, Llama 3 / Qwen2, GPT-4o) accepted.
import { describe, expect, it } from 'vitest';
import { checkTokenizerRegexes, regexPatterns, regexProblem } from './tokenizer-regex';

const REAL = {
  qwen2: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  llama3: String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  gpt4o: String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  sentencepiece: ' ',
  digits: String.raw`\d+`,
};

describe('tokenizer regex check', () => {
  for (const [name, pattern] of Object.entries(REAL)) {
    it(`accepts the ${name} pattern`, () => expect(regexProblem(pattern)).toBeNull(), 30_000);
  }

  for (const pattern of ['(a+)+$', '(a|a)*$', '(\\w+\\s?)*$', '(x+x+)+y', '(?:a|ab|b)*c']) {
    it(`refuses ${pattern}`, () => expect(regexProblem(pattern)).toMatch(/exponential/), 30_000);
  }

  it('finds patterns anywhere under normalizer, pre_tokenizer and decoder, and names the field', () => {
    const json = {
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '▁' },
          { type: 'Replace', pattern: { Regex: '(a+)+$' }, content: '' },
        ],
      },
      pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s+' } },
      model: { vocab: { Regex: 1 } },
    };
    expect(regexPatterns(json).map((p) => p.field)).toEqual(['normalizer.normalizers.1.pattern.Regex', 'pre_tokenizer.pattern.Regex']);
    expect(() => checkTokenizerRegexes(json, '/m/tokenizer.json')).toThrow(/normalizer regex "\(a\+\)\+\$" can take exponential time/);
  });
});
