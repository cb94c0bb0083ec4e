// The tokenizer interface the engine uses, and its implementation over a Hugging Face tokenizer.json
// (via @huggingface/tokenizers) with the BOS/EOS and chat-template settings of tokenizer_config.json.
import { Tokenizer } from '@huggingface/tokenizers';
import { ApiError } from '@shared/errors';

/**
 * The most characters one encode() call takes (1 Mi). Time and memory grow with the text (~160 bytes per
 * character in @huggingface/tokenizers); no context window needs more, and callers that may see more
 * (dataset statistics) cut their text first.
 */
export const MAX_ENCODE_CHARS = 1024 * 1024;

/** Refuses a text longer than MAX_ENCODE_CHARS with one line (field: what the text is). */
export function checkEncodeLength(text: string, field = 'text'): void {
  if (text.length > MAX_ENCODE_CHARS) {
    const most = MAX_ENCODE_CHARS.toLocaleString('en');
    throw new ApiError('invalid_argument', `the text is ${text.length.toLocaleString('en')} characters; a tokenizer call takes at most ${most}`, { field });
  }
}

export interface TextTokenizer {
  /** Token ids of `text`; with addSpecialTokens (default true) BOS etc. are added as the model expects. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; special tokens are skipped unless skipSpecialTokens is false. */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Largest token id + 1. */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Jinja chat template from tokenizer_config.json (or chat_template.jinja), if any. */
  readonly chatTemplate: string | null;
}

type TokenizerConfig = Record<string, unknown>;

/** A special token in tokenizer_config.json may be a string or an AddedToken object {content}. */
function tokenText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

/** chat_template is a string or a list of {name, template}; the one named 'default' wins. */
export function pickChatTemplate(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: string; template?: string }[];
    return (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
  }
  return null;
}

/** No real vocabulary comes near this many tokens; the library sizes tables by the largest id. */
const MAX_TOKEN_ID = 2 ** 24;

/**
 * The largest token id in tokenizer.json (model.vocab of BPE/WordPiece, added_tokens), -1 when there is none.
 * Every id must be an integer in [0, 2^24): the library passes ids through to encode() unchecked (a wrong one
 * would reach the embedding lookup) and allocates tables as long as the largest one (2^31 hangs it).
 */
export function maxTokenId(json: object): number {
  let max = -1;
  const check = (where: string, id: unknown): void => {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= MAX_TOKEN_ID) {
      throw new Error(`${where} has id ${JSON.stringify(id)?.slice(0, 40)}, not an integer in [0, ${MAX_TOKEN_ID})`);
    }
    max = Math.max(max, id as number);
  };
  const vocab = (json as { model?: { vocab?: unknown } }).model?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab)) check(`model.vocab token ${JSON.stringify(token).slice(0, 40)}`, id);
  }
  const added = (json as { added_tokens?: unknown }).added_tokens;
  if (Array.isArray(added)) for (const [i, token] of added.entries()) check(`added_tokens[${i}]`, (token as { id?: unknown } | null)?.id);
  return max;
}

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly chatTemplate: string | null;
  private readonly tokenizer: Tokenizer;
  private readonly addBos: boolean | undefined;

  constructor(tokenizerJson: object, config: TokenizerConfig, chatTemplate?: string | null) {
    maxTokenId(tokenizerJson);
    this.tokenizer = new Tokenizer(tokenizerJson, config);
    let maxId = -1;
    for (const [token, id] of this.tokenizer.get_vocab(true)) {
      // A malformed file can map a token to anything; such an id would reach the embedding lookup.
      if (!Number.isSafeInteger(id) || id < 0) {
        throw new Error(`token ${JSON.stringify(token).slice(0, 40)} has id ${JSON.stringify(id)?.slice(0, 40)}, not a non-negative integer`);
      }
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.bosTokenId = this.bosToken === null ? null : (this.tokenizer.token_to_id(this.bosToken) ?? null);
    this.eosTokenId = this.eosToken === null ? null : (this.tokenizer.token_to_id(this.eosToken) ?? null);
    this.addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : undefined;
    this.chatTemplate = chatTemplate ?? pickChatTemplate(config.chat_template);
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    checkEncodeLength(text);
    const addSpecial = opts.addSpecialTokens ?? true;
    const ids = this.tokenizer.encode(text, { add_special_tokens: addSpecial }).ids;
    // tokenizer_config's add_bos_token overrides the post-processor, as transformers' Llama tokenizers do.
    if (addSpecial && this.bosTokenId !== null && this.addBos !== undefined) {
      const hasBos = ids[0] === this.bosTokenId;
      if (this.addBos && !hasBos) return [this.bosTokenId, ...ids];
      if (!this.addBos && hasBos && this.tokenizer.encode(text, { add_special_tokens: false }).ids[0] !== this.bosTokenId) return ids.slice(1);
    }
    return ids;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    // @huggingface/tokenizers throws on an empty list; an empty generation or target is simply empty text.
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? true });
  }
}
