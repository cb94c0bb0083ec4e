// One example as the model sees it in training: each token with its id, its text and whether it is
// prompt (masked) or target (trained) — the EOS the trainer appends to unlabelled targets included.
import type { TokenPreview, TruncationRule } from '@shared/contract/datasets';
import { appendsEos, tokenizeExample, type DatasetTokenizer } from './tokenize-example';

export interface TokenPreviewOptions {
  /** Cut to this many tokens with `truncation` (default 'left') to show what training will see. */
  contextLength?: number;
  truncation?: TruncationRule;
  /** The trainer's addEos (default true): show the EOS it appends to unlabelled targets. */
  addEos?: boolean;
}

/** `example.label`: a labelled (classification) example, whose target never ends with EOS. */
export function tokenPreview(tokenizer: DatasetTokenizer, example: { prompt: string; target: string; label?: string }, opts: TokenPreviewOptions = {}): TokenPreview {
  let { ids, promptLength } = tokenizeExample(tokenizer, example.prompt, example.target, appendsEos(example, opts.addEos ?? true));
  if (opts.contextLength !== undefined && ids.length > opts.contextLength) {
    ({ ids, promptLength } = truncate(ids, promptLength, opts.contextLength, opts.truncation ?? 'left'));
  }
  const text = (id: number): string => tokenizer.decode([id], { skipSpecialTokens: false });
  return {
    tokens: ids.map((id, i) => ({ id, text: text(id), isPrompt: i < promptLength })),
    promptTokens: promptLength,
    targetTokens: ids.length - promptLength,
  };
}

/**
 * 'left' drops prompt tokens after the first (BOS stays) until the example fits; if the target alone is too
 * long its end is cut. 'right' and 'drop' (for a preview) keep the first contextLength tokens.
 */
export function truncate(ids: number[], promptLength: number, contextLength: number, rule: TruncationRule): { ids: number[]; promptLength: number } {
  if (ids.length <= contextLength) return { ids, promptLength };
  if (rule === 'left' && promptLength > 1) {
    const excess = ids.length - contextLength;
    const removable = promptLength - 1;
    const cut = Math.min(excess, removable);
    const kept = [ids[0], ...ids.slice(1 + cut)];
    const newPrompt = promptLength - cut;
    return { ids: kept.slice(0, contextLength), promptLength: Math.min(newPrompt, contextLength) };
  }
  return { ids: ids.slice(0, contextLength), promptLength: Math.min(promptLength, contextLength) };
}
