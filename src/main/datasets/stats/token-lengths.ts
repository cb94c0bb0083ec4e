// Token-length statistics over a dataset: percentiles and a histogram for the UI, plus how many examples
// exceed the model's context and how they will be cut.
import type { TokenLengths } from '@shared/contract/datasets';

const BINS = 16;

export class TokenLengthStats {
  private lengths: number[] = [];

  add(tokens: number): void {
    this.lengths.push(tokens);
  }

  get count(): number {
    return this.lengths.length;
  }

  summary(): TokenLengths | undefined {
    const n = this.lengths.length;
    if (n === 0) return undefined;
    const sorted = Float64Array.from(this.lengths).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
    const max = sorted[n - 1];
    const mean = this.lengths.reduce((a, b) => a + b, 0) / n;
    const width = Math.max(1, Math.ceil((max + 1) / BINS));
    const edges = Array.from({ length: BINS + 1 }, (_, i) => i * width);
    const counts = new Array<number>(BINS).fill(0);
    for (const len of this.lengths) counts[Math.min(BINS - 1, Math.floor(len / width))]++;
    return { p50: at(0.5), p95: at(0.95), max, mean: Math.round(mean * 100) / 100, count: n, histogram: { edges, counts } };
  }
}
