// The tokenizer built from a GGUF file's tokenizer.ggml.* metadata must split text exactly as llama.cpp does. The
// reference is llama.cpp itself, run live through node-llama-cpp (its prebuilt CPU binary, vocabulary only) on the
// two real models fetched by scripts/models/fetch-models.py, over tests/fixtures/gguf/tokenizer_corpus.json; those
// checks skip, saying why, where the model cache is absent. Tiny files written here check the bad inputs.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLine } from './testing/one-line-error';
import type { TextTokenizer } from '../tokenizer';
import { readGgufFile } from './gguf-file';
import { loadGgufTokenizer, tokenizerFromGguf } from './gguf-tokenizer';
import { writeTinyGguf, type TinyValue } from './tiny-gguf-writer';
import { modelCache, realModels } from '../../test-paths';

const CORPUS = join(import.meta.dirname, '../../../../../tests/fixtures/gguf/tokenizer_corpus.json');
const texts = (JSON.parse(readFileSync(CORPUS, 'utf8')) as { texts: { name: string; text: string }[] }).texts;
const CACHE = modelCache;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-tokenizer-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ---- the real models against llama.cpp ----

interface LlamaVocab {
  tokenize(text: string, specialTokens?: boolean): readonly number[];
  detokenize(tokens: readonly number[], specialTokens?: boolean): string;
  dispose(): Promise<void>;
}

async function llamaCppVocab(path: string): Promise<LlamaVocab> {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  // The prebuilt CPU binary only: never build or download.
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  return (await llama.loadModel({ modelPath: path, vocabOnly: true })) as unknown as LlamaVocab;
}

const REAL_MODELS = [
  { file: realModels.smollm2.file, addBos: false, bos: 1 },
  { file: realModels.gemma3.file, addBos: true, bos: 2 },
];

for (const real of REAL_MODELS) {
  const path = join(CACHE, real.file);
  const present = existsSync(path);
  if (!present) console.warn(`skipping llama.cpp tokenizer checks on ${real.file}: not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

  describe.skipIf(!present)(`GGUF tokenizer of ${real.file} against llama.cpp`, () => {
    let ours: TextTokenizer;
    let llama: LlamaVocab;
    beforeAll(async () => {
      ours = (await loadGgufTokenizer(path))!;
      llama = await llamaCppVocab(path);
    }, 120_000);
    afterAll(async () => {
      await llama?.dispose();
    });

    it('has the BOS/EOS settings the file gives', () => {
      expect(ours.bosTokenId).toBe(real.bos);
      expect(ours.encode('x')[0] === real.bos).toBe(real.addBos);
    });

    it.each(texts.map((t) => [t.name, t.text]))('encodes %s as llama.cpp tokenizes it', (_name, text) => {
      // Our encode matches added tokens (control ones too) in the text, as transformers does: llama.cpp's
      // tokenize with special tokens parsed. For text without them that is the same as without parsing.
      const want = [...(real.addBos ? [real.bos] : []), ...llama.tokenize(text, true)];
      expect(ours.encode(text)).toEqual(want);
      expect(ours.encode(text, { addSpecialTokens: false })).toEqual([...llama.tokenize(text, true)]);
    });

    it.each(texts.map((t) => [t.name, t.text]))('decodes %s as llama.cpp detokenizes it', (_name, text) => {
      const ids = ours.encode(text);
      const theirs = llama.detokenize(ids, false);
      expect(ours.decode(ids)).toBe(theirs);
      // Where llama.cpp round-trips the text, so do we.
      if (theirs === text) expect(ours.decode(ours.encode(text))).toBe(text);
    });
  });
}

// ---- tiny files: bounds and bad input, one line naming the file and field ----

function writeGguf(name: string, metadata: Record<string, TinyValue>): string {
  const path = join(dir, name);
  writeFileSync(path, writeTinyGguf({ metadata: { 'general.architecture': { type: 'string', value: 'llama' }, ...metadata } }));
  return path;
}

/** A tiny byte-level BPE vocabulary: bytes a, b, c, space (Ġ) and merges building "ab", "Ġab", "abc". */
function tinyBpe(extra: Record<string, TinyValue> = {}): Record<string, TinyValue> {
  return {
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'smollm' },
    'tokenizer.ggml.tokens': { type: 'string[]', value: ['<|endoftext|>', '<|im_start|>', 'a', 'b', 'c', 'Ġ', 'ab', 'Ġab', 'abc', '1', '2'] },
    'tokenizer.ggml.token_type': { type: 'i32[]', value: [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1] },
    'tokenizer.ggml.merges': { type: 'string[]', value: ['a b', 'Ġ ab', 'ab c'] },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: 0 },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: 0 },
    'tokenizer.chat_template': { type: 'string', value: '{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}' },
    ...extra,
  };
}

describe('GGUF tokenizer from tiny files', () => {
  it('builds byte-level BPE with merges, special tokens, digits split and the chat template', async () => {
    const tokenizer = (await loadGgufTokenizer(writeGguf('bpe.gguf', tinyBpe())))!;
    expect(tokenizer.encode('abc ab')).toEqual([8, 7]);
    expect(tokenizer.encode('<|im_start|>ab12')).toEqual([1, 6, 9, 10]);
    expect(tokenizer.decode([1, 6, 9, 10])).toBe('ab12');
    expect(tokenizer.decode([1, 6], { skipSpecialTokens: false })).toBe('<|im_start|>ab');
    expect(tokenizer.chatTemplate).toContain('<|im_start|>');
    expect(tokenizer.vocabSize).toBe(11);
  });

  it('adds BOS and EOS as the file flags say', async () => {
    const tokenizer = (await loadGgufTokenizer(
      writeGguf('bos.gguf', tinyBpe({ 'tokenizer.ggml.add_bos_token': { type: 'bool', value: true }, 'tokenizer.ggml.add_eos_token': { type: 'bool', value: true } })),
    ))!;
    expect(tokenizer.encode('ab')).toEqual([0, 6, 0]);
    expect(tokenizer.encode('ab', { addSpecialTokens: false })).toEqual([6]);
  });

  it('builds SentencePiece from scores with byte fallback', async () => {
    const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    const tokens = ['<unk>', '<s>', '</s>', '▁', 'a', 'b', 'ab', '▁ab', 'ba', ...bytes];
    const path = writeGguf('spm.gguf', {
      'tokenizer.ggml.model': { type: 'string', value: 'llama' },
      'tokenizer.ggml.tokens': { type: 'string[]', value: tokens },
      'tokenizer.ggml.scores': { type: 'f32[]', value: [0, 0, 0, -1, -2, -3, -4, -5, -1.5, ...bytes.map(() => 0)] },
      'tokenizer.ggml.token_type': { type: 'i32[]', value: [2, 3, 3, 1, 1, 1, 1, 1, 1, ...bytes.map(() => 6)] },
      'tokenizer.ggml.add_space_prefix': { type: 'bool', value: false },
    });
    const tokenizer = (await loadGgufTokenizer(path))!;
    // "bab": "ba" (score -1.5) beats "ab" (-4), as llama.cpp's highest-score-first merging does.
    expect(tokenizer.encode('bab', { addSpecialTokens: false })).toEqual([8, 5]);
    expect(tokenizer.encode(' ab', { addSpecialTokens: false })).toEqual([7]);
    // "é" is no token: its two UTF-8 bytes.
    expect(tokenizer.encode('é', { addSpecialTokens: false })).toEqual([9 + 0xc3, 9 + 0xa9]);
    expect(tokenizer.encode('ab')).toEqual([1, 6]); // BOS by default for SentencePiece
    expect(tokenizer.decode(tokenizer.encode(' ab é'))).toBe(' ab é');
  });

  it('has no tokenizer where the file names none (token ids still work)', async () => {
    expect(await loadGgufTokenizer(writeGguf('none.gguf', {}))).toBeNull();
  });

  it('refuses an unsupported tokenizer model or pre-tokenizer, listing the supported ones', async () => {
    const model = writeGguf('bert.gguf', tinyBpe({ 'tokenizer.ggml.model': { type: 'string', value: 'bert' } }));
    expect(await oneLine(loadGgufTokenizer(model), model)).toMatch(/tokenizer\.ggml\.model: tokenizer model "bert" is not supported \(supported: gpt2 .*llama/);
    const pre = writeGguf('pre.gguf', tinyBpe({ 'tokenizer.ggml.pre': { type: 'string', value: 'tekken' } }));
    expect(await oneLine(loadGgufTokenizer(pre), pre)).toMatch(/tokenizer\.ggml\.pre: pre-tokenizer "tekken" is not supported \(supported: .*smollm.*llama3.*qwen2/);
  });

  it('refuses absurd sizes, malformed merges and out-of-range ids, naming the field', async () => {
    const file = await readGgufFile(writeGguf('huge.gguf', tinyBpe()));
    const huge = { ...file, metadata: { ...file.metadata, 'tokenizer.ggml.merges': new Array<string>(2 ** 24 + 1) } };
    expect(() => tokenizerFromGguf(huge)).toThrow(/tokenizer\.ggml\.merges has 16,777,217 entries \(at most 16,777,216\)/);
    const merge = writeGguf('merge.gguf', tinyBpe({ 'tokenizer.ggml.merges': { type: 'string[]', value: ['a b', 'abc'] } }));
    expect(await oneLine(loadGgufTokenizer(merge), merge)).toMatch(/tokenizer\.ggml\.merges\[1\] is "abc", not two tokens separated by a space/);
    const bos = writeGguf('bosid.gguf', tinyBpe({ 'tokenizer.ggml.bos_token_id': { type: 'u32', value: 99 } }));
    expect(await oneLine(loadGgufTokenizer(bos), bos)).toMatch(/tokenizer\.ggml\.bos_token_id is 99, not a token id \(0\.\.10\)/);
    const types = writeGguf('types.gguf', tinyBpe({ 'tokenizer.ggml.token_type': { type: 'i32[]', value: [3, 3] } }));
    expect(await oneLine(loadGgufTokenizer(types), types)).toMatch(/tokenizer\.ggml\.token_type has 2 entries but tokenizer\.ggml\.tokens has 11/);
    const twice = writeGguf('twice.gguf', tinyBpe({ 'tokenizer.ggml.tokens': { type: 'string[]', value: ['a', 'b', 'a', 'c', 'Ġ', 'ab', 'Ġab', 'abc', '1', '2', 'x'] } }));
    expect(await oneLine(loadGgufTokenizer(twice), twice)).toMatch(/token "a" appears twice \(ids 0 and 2\)/);
    const spm = writeGguf('noscores.gguf', { 'tokenizer.ggml.model': { type: 'string', value: 'llama' }, 'tokenizer.ggml.tokens': { type: 'string[]', value: ['a'] } });
    expect(await oneLine(loadGgufTokenizer(spm), spm)).toMatch(/needs tokenizer\.ggml\.scores/);
  });
});
