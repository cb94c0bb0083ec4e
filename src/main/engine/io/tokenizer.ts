// The tokenizer interface the engine uses, and its implementation over a Hugging Face tokenizer.json
// (via @huggingface/tokenizers) with the BOS/EOS and chat-template settings of tokenizer_config.json.
import { Tokenizer } from '@huggingface/tokenizers';

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
    this.tokenizer = new Tokenizer(tokenizerJson, config);
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.bosToken = tokenText(config.bos_token);
    this.eosToken = tokenText(config.eos_token);
    this.bosTokenId = this.bosToken === null ? null : (this.tokenizer.token_to_id(this.bosToken) ?? null);
    this.eosTokenId = this.eosToken === null ? null : (this.tokenizer.token_to_id(this.eosToken) ?? null);
    this.addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : undefined;
    this.chatTemplate = chatTemplate ?? pickChatTemplate(config.chat_template);
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
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
    return this.tokenizer.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? true });
  }
}
