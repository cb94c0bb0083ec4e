// Generation-based evaluation: greedy continuations scored by exact match, and base-vs-tuned side-by-side
// generations for a few prompts.
//
// Exact match compares normalise(generated) with normalise(target as decoded: special tokens such as a chat
// template's end-of-turn dropped), where normalise trims, collapses every run of whitespace to one space and
// case-folds (toLowerCase). Generation stops at EOS or after
// maxNewTokens (default: the longest target's token count + 2).
import type { TextTokenizer } from '../io/tokenizer';
import { generate } from '../generate';
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import type { EvalExample } from './classify';

export function normaliseAnswer(text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

export interface GenerationOptions {
  hooks?: ModelHooks;
  maxNewTokens?: number;
  batchSize?: number;
  /** Cut the continuation at the first newline before comparing (answers on one line). Default true. */
  isFirstLineOnly?: boolean;
  signal?: AbortSignal;
}

export interface ExactMatchReport {
  exactMatch: number;
  predictions: { id: string; target: string; generated: string; isMatch: boolean }[];
}

async function greedy(model: CausalLM, tokenizer: TextTokenizer, prompts: string[], maxNewTokens: number, opts: GenerationOptions): Promise<string[]> {
  const out: string[] = [];
  const batchSize = opts.batchSize ?? 8;
  const eosTokenIds = [...new Set([...(tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : []), ...model.config.eosTokenIds])];
  for (let start = 0; start < prompts.length; start += batchSize) {
    const group = prompts.slice(start, start + batchSize).map((p) => tokenizer.encode(p));
    const result = await generate(model, group, { maxNewTokens, greedy: true, eosTokenIds, hooks: opts.hooks, signal: opts.signal, padTokenId: model.config.padTokenId ?? 0 });
    for (const ids of result.ids) out.push(tokenizer.decode(ids));
  }
  return out;
}

/**
 * The target as a generation of it reads: encoded and decoded, so special tokens a chat template writes as text
 * (`<|im_end|>`, `</s>`) are dropped as they are from the generated text.
 */
function asDecoded(tokenizer: TextTokenizer, target: string): string {
  return tokenizer.decode(tokenizer.encode(target, { addSpecialTokens: false }));
}

/** Greedy generation for each example's prompt, compared with its target by normalised exact match. */
export async function exactMatch(model: CausalLM, tokenizer: TextTokenizer, examples: readonly EvalExample[], opts: GenerationOptions = {}): Promise<ExactMatchReport> {
  const longest = Math.max(1, ...examples.map((e) => tokenizer.encode(e.target, { addSpecialTokens: false }).length));
  const generated = await greedy(
    model,
    tokenizer,
    examples.map((e) => e.prompt),
    opts.maxNewTokens ?? longest + 2,
    opts,
  );
  const isFirstLineOnly = opts.isFirstLineOnly ?? true;
  const predictions = examples.map((e, i) => {
    const text = isFirstLineOnly ? generated[i].replace(/^\s*\n+/, '').split('\n')[0] : generated[i];
    return { id: e.id, target: e.target, generated: text, isMatch: normaliseAnswer(text) === normaliseAnswer(asDecoded(tokenizer, e.target)) };
  });
  return { exactMatch: predictions.length ? predictions.filter((p) => p.isMatch).length / predictions.length : 0, predictions };
}

/** The base model's and the adapted model's greedy continuations of each prompt. */
export async function baseVsTuned(
  model: CausalLM,
  tokenizer: TextTokenizer,
  tunedHooks: ModelHooks,
  prompts: string[],
  opts: Omit<GenerationOptions, 'hooks'> = {},
): Promise<{ prompt: string; base: string; tuned: string }[]> {
  const maxNewTokens = opts.maxNewTokens ?? 32;
  const base = await greedy(model, tokenizer, prompts, maxNewTokens, { ...opts });
  const tuned = await greedy(model, tokenizer, prompts, maxNewTokens, { ...opts, hooks: tunedHooks });
  return prompts.map((prompt, i) => ({ prompt, base: base[i], tuned: tuned[i] }));
}
