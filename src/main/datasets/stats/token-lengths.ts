// Token-length statistics over a dataset: percentiles and a histogram for the UI, plus how many examples
// exceed the model's context and how they will be cut. Tokenizing is bounded: each example's text is cut to
// what training could use (context × CHARS_PER_TOKEN_BOUND characters) and the whole pass tokenizes at most
// TOTAL_CHAR_BUDGET characters; the summary says how many examples were cut or not measured.
import type { TokenLengths } from '@shared/contract/datasets';
import { MAX_ENCODE_CHARS } from '../../engine/io/tokenizer';
import type { DatasetTokenizer } from './tokenize-example';

const BINS = 16;
/** No tokenizer averages more characters per token over a whole example (English BPE: ~4). */
export const CHARS_PER_TOKEN_BOUND = 32;
/** Context assumed when none is known (no model context, no --context-length). */
export const DEFAULT_CONTEXT_TOKENS = 4096;
/** Characters tokenized per pass (~64 Mi: tens of seconds); later examples are counted as not measured. */
export const TOTAL_CHAR_BUDGET = 64 * 1024 * 1024;

export class TokenLengthStats {
  private lengths: number[] = [];
  private truncated = 0;
  private skipped = 0;
  private budget: number;

  constructor(totalChars = TOTAL_CHAR_BUDGET) {
    this.budget = totalChars;
  }

  add(tokens: number): void {
    this.lengths.push(tokens);
  }

  /** The most characters of one example that are tokenized for a context of `contextLength` tokens. */
  static charCap(contextLength: number | undefined): number {
    return Math.min(MAX_ENCODE_CHARS, (contextLength ?? DEFAULT_CONTEXT_TOKENS) * CHARS_PER_TOKEN_BOUND);
  }

  /**
   * Counts the tokens of prompt + target (with special tokens) and records them; undefined when the pass's
   * budget is spent (the example is counted as not measured). An example longer than charCap is cut first:
   * its count covers the cut text, a lower bound that already exceeds the context.
   */
  measure(tokenizer: DatasetTokenizer, prompt: string, target: string, contextLength?: number): number | undefined {
    if (this.budget <= 0) {
      this.skipped++;
      return undefined;
    }
    const cap = TokenLengthStats.charCap(contextLength);
    const length = prompt.length + target.length;
    let text: string;
    if (length > cap) {
      this.truncated++;
      // Cut before a lone high surrogate so the tokenizer never sees half a character.
      let end = cap;
      const full = prompt.length >= cap ? prompt : prompt + target.slice(0, cap - prompt.length + 1);
      if (/[\uD800-\uDBFF]/.test(full[end - 1] ?? '')) end--;
      text = full.slice(0, end);
    } else {
      text = prompt + target;
    }
    this.budget -= text.length;
    const tokens = tokenizer.encode(text, { addSpecialTokens: true }).length;
    this.add(tokens);
    return tokens;
  }

  get count(): number {
    return this.lengths.length;
  }

  summary(): TokenLengths | undefined {
    const n = this.lengths.length;
    if (n === 0 && this.skipped === 0) return undefined;
    const sorted = Float64Array.from(this.lengths).sort();
    const at = (q: number): number => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]);
    const max = n === 0 ? 0 : sorted[n - 1];
    const mean = n === 0 ? 0 : this.lengths.reduce((a, b) => a + b, 0) / n;
    const width = Math.max(1, Math.ceil((max + 1) / BINS));
    const edges = Array.from({ length: BINS + 1 }, (_, i) => i * width);
    const counts = new Array<number>(BINS).fill(0);
    for (const len of this.lengths) counts[Math.min(BINS - 1, Math.floor(len / width))]++;
    const summary: TokenLengths = { p50: at(0.5), p95: at(0.95), max, mean: Math.round(mean * 100) / 100, count: n, histogram: { edges, counts } };
    if (this.truncated > 0) summary.truncatedRows = this.truncated;
    if (this.skipped > 0) summary.skippedRows = this.skipped;
    return summary;
  }
}
