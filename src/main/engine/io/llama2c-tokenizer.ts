// llama2.c's tokenizer format (tokenizer.bin / tok512.bin): int32 max_token_length, then per token a float32
// score, an int32 byte length and the bytes. Encoding follows run.c: a dummy-prefix space, UTF-8 code
// points looked up (unknown ones fall back to byte tokens <0xXX> = byte + 3), then greedy merging of the
// adjacent pair whose merged token has the highest score.
import { readFileSync } from 'node:fs';
import { ApiError } from '@shared/errors';
import type { TextTokenizer } from './tokenizer';

const BOS_ID = 1;
const EOS_ID = 2;

export class Llama2cTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosToken = '<s>';
  readonly eosToken = '</s>';
  readonly bosTokenId = BOS_ID;
  readonly eosTokenId = EOS_ID;
  readonly chatTemplate = null;
  /** Token pieces as latin1 strings, so each char is one byte. */
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly idOf = new Map<string, number>();

  constructor(pieces: string[], scores: Float32Array) {
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    // run.c's binary search over sorted pieces finds one of any duplicates; keep the first.
    pieces.forEach((piece, id) => {
      if (!this.idOf.has(piece)) this.idOf.set(piece, id);
    });
  }

  static read(path: string, expectedVocab?: number): Llama2cTokenizer {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new ApiError('not_found', `cannot read llama2.c tokenizer: ${(err as Error).message}`, { file: path });
    }
    const bad = (message: string): ApiError => new ApiError('bad_file', `invalid llama2.c tokenizer: ${message}`, { file: path });
    if (bytes.length < 4) throw bad('file too short');
    const maxTokenLength = bytes.readInt32LE(0);
    if (maxTokenLength <= 0 || maxTokenLength > 1024) throw bad(`max_token_length ${maxTokenLength} is not plausible`);
    const pieces: string[] = [];
    const scores: number[] = [];
    let offset = 4;
    while (offset < bytes.length && (expectedVocab === undefined || pieces.length < expectedVocab)) {
      if (offset + 8 > bytes.length) throw bad(`token ${pieces.length} is cut off`);
      const score = bytes.readFloatLE(offset);
      const length = bytes.readInt32LE(offset + 4);
      offset += 8;
      if (length < 0 || length > maxTokenLength || offset + length > bytes.length) throw bad(`token ${pieces.length} has length ${length}`);
      pieces.push(bytes.toString('latin1', offset, offset + length));
      scores.push(score);
      offset += length;
    }
    if (expectedVocab !== undefined && pieces.length < expectedVocab) {
      throw bad(`holds ${pieces.length} tokens but the model's vocabulary has ${expectedVocab}`);
    }
    // encode() always emits BOS (id 1) and falls back to <unk> (id 0): ids 0–2 must exist.
    if (pieces.length < 3) throw bad(`holds ${pieces.length} tokens; it needs at least <unk>, <s> and </s>`);
    return new Llama2cTokenizer(pieces, Float32Array.from(scores));
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const tokens: number[] = [];
    if (opts.addSpecialTokens ?? true) tokens.push(BOS_ID);
    if (text.length === 0) return tokens;
    const dummyPrefix = this.idOf.get(' ');
    if (dummyPrefix !== undefined) tokens.push(dummyPrefix);
    for (const char of text) {
      const utf8 = Buffer.from(char, 'utf8');
      const id = this.idOf.get(utf8.toString('latin1'));
      if (id !== undefined) tokens.push(id);
      // Byte fallback: <0x00> is id 3. A vocabulary too small to hold the 256 byte tokens gets <unk> (id 0),
      // never an id past its end (which the embedding lookup would read out of bounds).
      else for (const byte of utf8) tokens.push(byte + 3 < this.vocabSize ? byte + 3 : 0);
    }
    const start = opts.addSpecialTokens ?? true ? 1 : 0;
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestIndex = -1;
      for (let i = start; i < tokens.length - 1; i++) {
        const id = this.idOf.get(this.pieces[tokens[i]] + this.pieces[tokens[i + 1]]);
        if (id !== undefined && this.scores[id] > bestScore) {
          bestScore = this.scores[id];
          bestId = id;
          bestIndex = i;
        }
      }
      if (bestIndex === -1) break;
      tokens.splice(bestIndex, 2, bestId);
    }
    return tokens;
  }

  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const skipSpecial = opts.skipSpecialTokens ?? true;
    const bytes: number[] = [];
    let previous = BOS_ID; // the text starts a sequence: drop its leading space, as run.c does after BOS
    for (const id of ids) {
      if (skipSpecial && id <= EOS_ID) {
        previous = id;
        continue;
      }
      let piece = this.pieces[id] ?? '';
      if (previous === BOS_ID && piece.startsWith(' ')) piece = piece.slice(1);
      const byteToken = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      if (byteToken) bytes.push(parseInt(byteToken[1], 16));
      else for (let i = 0; i < piece.length; i++) bytes.push(piece.charCodeAt(i));
      previous = id;
    }
    return Buffer.from(bytes).toString('utf8');
  }
}
