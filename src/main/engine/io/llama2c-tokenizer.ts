// llama2.c's tokenizer format (tokenizer.bin / tok512.bin): int32 max_token_length, then per token a float32
// score, an int32 byte length and the bytes. Encoding follows run.c: a dummy-prefix space, UTF-8 code
// points looked up (unknown ones fall back to byte tokens <0xXX> = byte + 3), then greedy merging of the
// adjacent pair whose merged token has the highest score.
import { ApiError } from '@shared/errors';
import { FILE_CAPS, readBoundedFile } from './bounded-read';
import { checkEncodeLength, type TextTokenizer } from './tokenizer';

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
    const bytes = readBoundedFile(path, FILE_CAPS.llama2cTokenizer);
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
    checkEncodeLength(text);
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
    const start = (opts.addSpecialTokens ?? true) ? 1 : 0;
    return [...tokens.slice(0, start), ...this.merge(tokens.slice(start))];
  }

  /**
   * run.c's rule — repeatedly merge the adjacent pair whose merged token scores highest, the leftmost on
   * ties — with a heap over a linked list instead of rescanning every pair per merge (quadratic in the text).
   * Positions only move right, so "leftmost" is the smallest position of a pair's left token.
   */
  private merge(ids: number[]): number[] {
    const n = ids.length;
    const token = Int32Array.from(ids);
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const version = new Int32Array(n);
    const heap = new MergeHeap();
    const consider = (i: number): void => {
      if (i < 0 || next[i] < 0) return;
      const j = next[i];
      const id = this.idOf.get(this.pieces[token[i]] + this.pieces[token[j]]);
      // run.c starts its search at -1e10: pairs scoring no more than that are never merged.
      if (id !== undefined && this.scores[id] > -1e10) heap.push({ score: this.scores[id], at: i, id, version: version[i], rightVersion: version[j], right: j });
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    for (;;) {
      const best = heap.pop();
      if (!best) break;
      const { at, right } = best;
      // Stale: either token changed (merged) since the pair was seen.
      if (token[at] < 0 || token[right] < 0 || next[at] !== right || version[at] !== best.version || version[right] !== best.rightVersion) continue;
      token[at] = best.id;
      version[at]++;
      token[right] = -1;
      next[at] = next[right];
      if (next[right] >= 0) prev[next[right]] = at;
      consider(prev[at]);
      consider(at);
    }
    const out: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]) out.push(token[i]);
    return out;
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

interface MergeCandidate {
  score: number;
  /** Position of the pair's left token (ties go to the smallest, as run.c's left-to-right scan does). */
  at: number;
  right: number;
  id: number;
  version: number;
  rightVersion: number;
}

/** A binary max-heap on (score, then smallest position). */
class MergeHeap {
  private readonly items: MergeCandidate[] = [];

  private before(a: MergeCandidate, b: MergeCandidate): boolean {
    return a.score > b.score || (a.score === b.score && a.at < b.at);
  }

  push(item: MergeCandidate): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): MergeCandidate | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l], items[best])) best = l;
        if (r < items.length && this.before(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}
