// Perplexity on held-out text: each text is tokenised (BOS included when the tokenizer adds one) and cut
// into consecutive non-overlapping windows of maxLength tokens; within a window every token after the first
// is scored given the window's earlier tokens. perplexity = exp(total NLL / scored tokens).
import type { TextTokenizer } from '../io/tokenizer';
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import { meanNll, scoreSequences } from './score';

export interface PerplexityReport {
  /** Mean negative log-likelihood per scored token (nats). */
  nllPerToken: number;
  perplexity: number;
  tokens: number;
}

export async function perplexity(
  model: CausalLM,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  opts: { hooks?: ModelHooks; maxLength?: number; batchSize?: number; padId?: number } = {},
): Promise<PerplexityReport> {
  const maxLength = Math.min(opts.maxLength ?? 256, model.config.maxPositions);
  const windows: { ids: number[]; targetStart: number }[] = [];
  for (const text of texts) {
    const ids = tokenizer.encode(text);
    for (let start = 0; start < ids.length; start += maxLength) {
      const window = ids.slice(start, start + maxLength);
      if (window.length >= 2) windows.push({ ids: window, targetStart: 1 });
    }
  }
  const scores = await scoreSequences(model, windows, { hooks: opts.hooks, batchSize: opts.batchSize ?? 8, padId: opts.padId ?? 0 });
  const nllPerToken = meanNll(scores);
  return { nllPerToken, perplexity: Math.exp(nllPerToken), tokens: scores.reduce((sum, s) => sum + s.tokens, 0) };
}
