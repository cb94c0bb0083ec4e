// Reading a GGUF file's `${arch}.*` and `tokenizer.ggml.*` metadata for the architecture mappings
// (gguf-llama.ts, gguf-qwen.ts, gguf-gpt2.ts, …): each value checked for its kind, with one clear error naming
// the key, and the facts every family shares (vocabulary size from token_embd, special token ids, tied head).
import { ApiError } from '@shared/errors';
import type { GgufFile, GgufValue } from './gguf-file';

/** Reads `${arch}.KEY` (or `tokenizer.*`) metadata with one clear error naming the key. */
export class GgufMetadata {
  constructor(
    readonly file: GgufFile,
    readonly arch: string,
  ) {}

  /** The full key: `tokenizer.*` and `general.*` keys are global, the others are prefixed with the architecture. */
  key(key: string): string {
    return key.startsWith('tokenizer.') || key.startsWith('general.') ? key : `${this.arch}.${key}`;
  }

  value(key: string): GgufValue | undefined {
    return this.file.metadata[this.key(key)];
  }

  has(key: string): boolean {
    return this.value(key) !== undefined;
  }

  int(key: string, fallback?: number): number {
    const value = this.value(key);
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw this.error(key, 'is missing');
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw this.error(key, `must be a positive integer, got ${shown(value)}`);
    return value;
  }

  num(key: string, fallback: number): number {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.error(key, `must be a finite number, got ${shown(value)}`);
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.value(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.error(key, `must be true or false, got ${shown(value)}`);
    return value;
  }

  tokenId(key: string): number | null {
    const value = this.value(key);
    if (value === undefined) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw this.error(key, `must be a token id, got ${shown(value)}`);
    return value;
  }

  error(key: string, what: string): ApiError {
    const full = this.key(key);
    return new ApiError('bad_file', `GGUF metadata ${full} ${what}`, { file: this.file.path, field: full });
  }

  /** True when the file has a tensor of that name. */
  hasTensor(name: string): boolean {
    return this.file.tensors.some((t) => t.name === name);
  }

  /**
   * Model width and vocabulary size from token_embd.weight ([hidden, vocab] in GGUF order), checked against
   * `embedding_length` and the tokenizer's token list where the file has one.
   */
  embedding(): { hidden: number; vocabSize: number } {
    const embedding = this.file.tensors.find((t) => t.name === 'token_embd.weight');
    if (!embedding || embedding.shape.length !== 2) {
      throw new ApiError('bad_file', 'GGUF file has no 2-D token_embd.weight tensor', { file: this.file.path, field: 'token_embd.weight' });
    }
    const hidden = this.int('embedding_length');
    const [width, vocabSize] = embedding.shape;
    if (width !== hidden) throw this.error('embedding_length', `(${hidden}) differs from token_embd.weight's width ${width}`);
    const tokens = this.value('tokenizer.ggml.tokens');
    if (Array.isArray(tokens) && tokens.length !== vocabSize) {
      throw this.error('tokenizer.ggml.tokens', `has ${tokens.length} tokens but token_embd.weight has ${vocabSize} rows`);
    }
    return { hidden, vocabSize };
  }

  /** The special token ids every config carries. */
  specialTokens(): { bosTokenId: number | null; eosTokenIds: number[]; padTokenId: number | null } {
    const eos = this.tokenId('tokenizer.ggml.eos_token_id');
    return {
      bosTokenId: this.tokenId('tokenizer.ggml.bos_token_id'),
      eosTokenIds: eos === null ? [] : [eos],
      padTokenId: this.tokenId('tokenizer.ggml.padding_token_id'),
    };
  }

  /** llama.cpp ties the LM head to the embedding when the file has no output.weight. */
  tiedEmbeddings(): boolean {
    return !this.hasTensor('output.weight');
  }

  /** Refuses rope scaling we do not map yet (a scaling type, or a rope_freqs tensor as llama3 scaling writes). */
  refuseRopeScaling(): void {
    const scaling = this.value('rope.scaling.type');
    if ((scaling !== undefined && scaling !== 'none') || this.hasTensor('rope_freqs.weight')) {
      throw new ApiError('unsupported', `GGUF rope scaling (${this.key('rope.scaling.type')} or a rope_freqs tensor) is not supported yet for ${this.arch}`, {
        file: this.file.path,
        field: this.key('rope.scaling.type'),
      });
    }
  }
}

export function shown(value: GgufValue): string {
  const text = typeof value === 'bigint' ? value.toString() : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
