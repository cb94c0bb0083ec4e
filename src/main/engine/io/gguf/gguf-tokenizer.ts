// The tokenizer a GGUF file carries in its `tokenizer.ggml.*` metadata, as a tokenizer.json for
// @huggingface/tokenizers (run by HfTokenizer), built to tokenize exactly as llama.cpp does (src/llama-vocab.cpp,
// the reference our tests compare against through node-llama-cpp):
// - `gpt2`: byte-level BPE over the file's merges, after llama.cpp's pre-tokenizer regexes for `tokenizer.ggml.pre`
//   (each regex splits every piece the previous one left, matches and gaps alike: Split "Isolated" in a Sequence);
// - `llama`: llama.cpp's SentencePiece ("SPM") tokenizer, which repeatedly joins the adjacent pair whose joined text
//   is the highest-scoring token, then falls back to <0xXX> byte tokens. That is BPE whose merges are every way to
//   split each token in two, ranked by the token's score; spaces become ▁.
// Control, user-defined and unknown tokens are added tokens (so "<|im_start|>" in a chat prompt is one token, as
// llama.cpp's tokenize with special tokens parsed gives); control and unknown ones are special (skipped by decode).
import { ApiError } from '@shared/errors';
import { HfTokenizer, type TextTokenizer } from '../tokenizer';
import { readGgufFile, type GgufFile, type GgufValue } from './gguf-file';
import { readGgufStringArrays } from './gguf-raw-strings';

/** No real vocabulary or merge list comes near this (the largest have ~2^18); larger ones are refused. */
export const MAX_GGUF_TOKENS = 2 ** 24;

/** llama.cpp's token types (tokenizer.ggml.token_type). */
const TOKEN_TYPE = { undefined: 0, normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

// llama.cpp's pre-tokenizer regexes (llm_tokenizer_bpe in src/llama-vocab.cpp), applied in order.
const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface PreTokenizer {
  regexes: string[];
  /** A word that is itself a token is not merged (llama.cpp's ignore_merges). */
  ignoreMerges?: boolean;
  /** llama.cpp's add_bos default for this pre type (the file's tokenizer.ggml.add_bos_token overrides it). */
  addBos?: boolean;
  /** llama.cpp's clean_spaces: decode removes spaces before punctuation. */
  cleanSpaces: boolean;
}

const SMOLLM: PreTokenizer = { regexes: ['\\p{N}', GPT2_REGEX], cleanSpaces: false };
const GPT2: PreTokenizer = { regexes: [GPT2_REGEX], cleanSpaces: true };
const LLAMA3: PreTokenizer = { regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true, cleanSpaces: true };
const QWEN2: PreTokenizer = { regexes: [QWEN2_REGEX], cleanSpaces: false };
const DEFAULT: PreTokenizer = { regexes: ['[\\p{P}$+<=>^~|]+', GPT2_REGEX, '\\p{N}+', '[0-9][0-9][0-9]'], cleanSpaces: true };

/** tokenizer.ggml.pre values we tokenize exactly as llama.cpp does (its names for the same rules). */
const PRE_TOKENIZERS: Record<string, PreTokenizer> = {
  default: DEFAULT,
  smollm: SMOLLM,
  starcoder: SMOLLM,
  refact: SMOLLM,
  codeshell: SMOLLM,
  'gpt-2': GPT2,
  'phi-2': GPT2,
  mpt: GPT2,
  olmo: GPT2,
  llama3: LLAMA3,
  'llama-v3': LLAMA3,
  'llama-bpe': LLAMA3,
  qwen2: QWEN2,
  'deepseek-r1-qwen': QWEN2,
};

/** Supported tokenizer.ggml.model values. */
const MODELS = { gpt2: 'byte-level BPE', llama: 'SentencePiece' } as const;

/** llama.cpp treats these as control tokens (end of generation) whatever type the file gives them. */
const EOG_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '</s>',
]);

export interface GgufTokenizerParts {
  /** tokenizer.json for @huggingface/tokenizers. */
  json: Record<string, unknown>;
  /** tokenizer_config.json equivalent (bos/eos tokens, decode clean-up). */
  config: Record<string, unknown>;
  chatTemplate: string | null;
}

/** Whether the file carries a tokenizer at all (llama.cpp needs tokenizer.ggml.model). */
export function hasGgufTokenizer(file: GgufFile): boolean {
  return file.metadata['tokenizer.ggml.model'] !== undefined;
}

/** The chat template the file carries (tokenizer.chat_template), if any. */
export function ggufChatTemplate(file: GgufFile): string | null {
  const template = file.metadata['tokenizer.chat_template'];
  return typeof template === 'string' && template.length > 0 ? template : null;
}

/** The tokenizer of a GGUF file, or null when it has no tokenizer.ggml.model (token ids still work). */
export function tokenizerFromGguf(file: GgufFile): TextTokenizer | null {
  const parts = ggufTokenizerParts(file);
  if (!parts) return null;
  try {
    return new HfTokenizer(parts.json, parts.config, parts.chatTemplate);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('bad_file', `cannot build the tokenizer from tokenizer.ggml.*: ${String((err as Error).message ?? err).slice(0, 300)}`, {
      file: file.path,
      field: 'tokenizer.ggml.tokens',
    });
  }
}

/** Reads the header of the GGUF file at `path` and builds its tokenizer (null when it has none). */
export async function loadGgufTokenizer(path: string): Promise<TextTokenizer | null> {
  return tokenizerFromGguf(await readGgufFile(path));
}

/** The tokenizer.json and config for the file's tokenizer.ggml.* metadata; null without tokenizer.ggml.model. */
export function ggufTokenizerParts(file: GgufFile): GgufTokenizerParts | null {
  const meta = file.metadata;
  const bad = (message: string, field: string): ApiError => new ApiError('bad_file', `invalid GGUF tokenizer: ${message}`, { file: file.path, field });
  const kind = meta['tokenizer.ggml.model'];
  if (kind === undefined) return null;
  if (typeof kind !== 'string' || !Object.hasOwn(MODELS, kind)) {
    const supported = Object.entries(MODELS).map(([name, what]) => `${name} (${what})`);
    throw new ApiError('unsupported', `tokenizer model ${JSON.stringify(kind).slice(0, 60)} is not supported (supported: ${supported.join(', ')})`, {
      file: file.path,
      field: 'tokenizer.ggml.model',
    });
  }
  const isBpe = kind === 'gpt2';

  let tokens = stringArray(meta['tokenizer.ggml.tokens'], 'tokenizer.ggml.tokens', bad, true);
  if (tokens.length === 0) throw bad('tokenizer.ggml.tokens is empty', 'tokenizer.ggml.tokens');
  let mergeTexts = isBpe ? stringArray(meta['tokenizer.ggml.merges'], 'tokenizer.ggml.merges', bad, false) : [];
  // The parser drops a leading byte-order mark from every string; the texts are read again byte-exactly.
  const exact = readGgufStringArrays(file.path, ['tokenizer.ggml.tokens', ...(isBpe ? ['tokenizer.ggml.merges'] : [])]);
  if (exact.get('tokenizer.ggml.tokens')?.length === tokens.length) tokens = exact.get('tokenizer.ggml.tokens')!;
  if (exact.get('tokenizer.ggml.merges')?.length === mergeTexts.length) mergeTexts = exact.get('tokenizer.ggml.merges')!;
  const n = tokens.length;
  // llama.cpp names empty tokens this way, so every token has a text.
  for (let i = 0; i < n; i++) if (tokens[i] === '') tokens[i] = `[EMPTY_${i}]`;
  const types = numberArray(meta['tokenizer.ggml.token_type'], 'tokenizer.ggml.token_type', n, bad);
  const scores = numberArray(meta['tokenizer.ggml.scores'], 'tokenizer.ggml.scores', n, bad);

  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  for (let i = 0; i < n; i++) {
    if (Object.hasOwn(vocab, tokens[i])) {
      throw bad(`token ${JSON.stringify(tokens[i]).slice(0, 40)} appears twice (ids ${vocab[tokens[i]]} and ${i})`, 'tokenizer.ggml.tokens');
    }
    vocab[tokens[i]] = i;
  }

  const id = (key: string, fallback: number | null): number | null => {
    const value = meta[key];
    if (value === undefined) return fallback !== null && fallback < n ? fallback : null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= n) {
      throw bad(`${key} is ${String(value).slice(0, 40)}, not a token id (0..${n - 1})`, key);
    }
    return value;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = meta[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw bad(`${key} is ${String(value).slice(0, 40)}, not a boolean`, key);
    return value;
  };

  // llama.cpp's defaults where the file says nothing (llama_vocab::impl::load).
  let pre: PreTokenizer | null = null;
  if (isBpe) {
    const preName = meta['tokenizer.ggml.pre'] ?? 'default';
    if (typeof preName !== 'string' || !Object.hasOwn(PRE_TOKENIZERS, preName)) {
      throw new ApiError('unsupported', `pre-tokenizer ${JSON.stringify(preName).slice(0, 60)} is not supported (supported: ${Object.keys(PRE_TOKENIZERS).join(', ')})`, {
        file: file.path,
        field: 'tokenizer.ggml.pre',
      });
    }
    pre = PRE_TOKENIZERS[preName];
  }
  const bosId = id('tokenizer.ggml.bos_token_id', isBpe ? 11 : 1);
  const eosId = id('tokenizer.ggml.eos_token_id', isBpe ? 11 : 2);
  const unkId = id('tokenizer.ggml.unknown_token_id', isBpe ? null : 0);
  const padId = id('tokenizer.ggml.padding_token_id', null);
  const addBos = flag('tokenizer.ggml.add_bos_token', isBpe ? (pre?.addBos ?? false) : true);
  const addEos = flag('tokenizer.ggml.add_eos_token', false);
  const addSpacePrefix = !isBpe && flag('tokenizer.ggml.add_space_prefix', true);

  const addedTokens: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    let type = types ? types[i] : TOKEN_TYPE.normal;
    if (EOG_TEXTS.has(tokens[i])) type = TOKEN_TYPE.control;
    if (type !== TOKEN_TYPE.control && type !== TOKEN_TYPE.userDefined && type !== TOKEN_TYPE.unknown) continue;
    addedTokens.push({ id: i, content: tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: type !== TOKEN_TYPE.userDefined });
  }

  const single: unknown[] = [];
  if (addBos && bosId !== null) single.push({ SpecialToken: { id: tokens[bosId], type_id: 0 } });
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos && eosId !== null) single.push({ SpecialToken: { id: tokens[eosId], type_id: 0 } });
  const postProcessor = { type: 'TemplateProcessing', single, pair: single, special_tokens: {} };

  let json: Record<string, unknown>;
  if (isBpe) {
    const merges = mergeTexts.map((merge, i) => {
      // llama.cpp splits at the first space after the first character.
      const at = merge.indexOf(' ', 1);
      if (at < 0) throw bad(`tokenizer.ggml.merges[${i}] is ${JSON.stringify(merge).slice(0, 40)}, not two tokens separated by a space`, 'tokenizer.ggml.merges');
      return [merge.slice(0, at), merge.slice(at + 1)];
    });
    json = {
      version: '1.0',
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          ...pre!.regexes.map((regex) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false })),
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      },
      post_processor: postProcessor,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      model: { type: 'BPE', vocab, merges, ignore_merges: pre!.ignoreMerges ?? false, byte_fallback: false, fuse_unk: false, unk_token: null },
    };
  } else {
    if (!scores) throw bad('a SentencePiece (llama) tokenizer needs tokenizer.ggml.scores', 'tokenizer.ggml.scores');
    json = {
      version: '1.0',
      added_tokens: addedTokens,
      normalizer: {
        type: 'Sequence',
        normalizers: [...(addSpacePrefix ? [{ type: 'Prepend', prepend: '▁' }] : []), { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
      },
      pre_tokenizer: null,
      post_processor: postProcessor,
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE',
        vocab,
        merges: spmMerges(tokens, scores),
        byte_fallback: true,
        fuse_unk: true,
        ignore_merges: false,
        unk_token: unkId === null ? null : tokens[unkId],
      },
    };
  }

  const config: Record<string, unknown> = {
    bos_token: bosId === null ? null : tokens[bosId],
    eos_token: eosId === null ? null : tokens[eosId],
    pad_token: padId === null ? null : tokens[padId],
    unk_token: unkId === null ? null : tokens[unkId],
    clean_up_tokenization_spaces: pre?.cleanSpaces ?? false,
  };
  return { json, config, chatTemplate: ggufChatTemplate(file) };
}

/**
 * llama.cpp's SPM merge order as BPE merges: every split of a token's text into two parts that can each be a
 * symbol (a token, or one character, which is where merging starts), ranked by the token's score, highest first.
 */
function spmMerges(tokens: string[], scores: number[]): [string, string][] {
  const known = new Set(tokens);
  const found: { left: string; right: string; score: number; id: number }[] = [];
  for (let id = 0; id < tokens.length; id++) {
    const chars = Array.from(tokens[id]);
    if (chars.length < 2) continue;
    let left = '';
    for (let k = 1; k < chars.length; k++) {
      left += chars[k - 1];
      const right = tokens[id].slice(left.length);
      const leftOk = k === 1 || known.has(left);
      const rightOk = k === chars.length - 1 || known.has(right);
      if (leftOk && rightOk) found.push({ left, right, score: scores[id], id });
    }
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id);
  return found.map((m) => [m.left, m.right]);
}

function stringArray(value: GgufValue | undefined, field: string, bad: (m: string, f: string) => ApiError, required: boolean): string[] {
  if (value === undefined) {
    if (required) throw bad(`${field} is missing`, field);
    return [];
  }
  if (!Array.isArray(value)) throw bad(`${field} is not an array`, field);
  if (value.length > MAX_GGUF_TOKENS) throw bad(`${field} has ${value.length.toLocaleString('en')} entries (at most ${MAX_GGUF_TOKENS.toLocaleString('en')})`, field);
  const i = value.findIndex((v) => typeof v !== 'string');
  if (i >= 0) throw bad(`${field}[${i}] is not a string`, field);
  return (value as string[]).slice();
}

function numberArray(value: GgufValue | undefined, field: string, length: number, bad: (m: string, f: string) => ApiError): number[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) throw bad(`${field} is not an array`, field);
  if (value.length !== length) throw bad(`${field} has ${value.length} entries but tokenizer.ggml.tokens has ${length}`, field);
  const i = value.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (i >= 0) throw bad(`${field}[${i}] is ${String(value[i]).slice(0, 40)}, not a finite number`, field);
  return value as number[];
}
