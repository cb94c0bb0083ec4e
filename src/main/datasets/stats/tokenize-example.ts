// How an example becomes token ids, and which of them are prompt (masked from the loss) and which are
// target (trained). The trainer must use this same rule, or the preview would lie.
//
// Rule: ids = encode(prompt + target) with special tokens; the prompt part is the longest common prefix
// of those ids and encode(prompt). Encoding the joint text keeps the tokenisation the model saw in
// pre-training (SentencePiece would add a second "▁" to a separately encoded " positive"); a boundary
// token that merges prompt and target characters counts as target, so the first target character is
// always trained.

/** What the dataset code needs from a tokenizer (the engine's loaders provide one per model). */
export interface DatasetTokenizer {
  /** addSpecial: add the model's BOS (or other) special tokens, as at training time. Default true. */
  encode(text: string, addSpecial?: boolean): number[];
  decode(ids: number[]): string;
  /** The token's own string (e.g. "▁the"), when the tokenizer can say; else decode([id]) is shown. */
  tokenText?(id: number): string;
}

export interface TokenizedExample {
  ids: number[];
  /** ids[0 .. promptLength) are prompt tokens. */
  promptLength: number;
}

export function tokenizeExample(tokenizer: DatasetTokenizer, prompt: string, target: string): TokenizedExample {
  const ids = tokenizer.encode(prompt + target, true);
  if (prompt === '') {
    // Only special tokens (BOS) precede the text: they are context, not something to learn.
    const specials = tokenizer.encode('', true);
    return { ids, promptLength: commonPrefix(ids, specials) };
  }
  const promptIds = tokenizer.encode(prompt, true);
  return { ids, promptLength: commonPrefix(ids, promptIds) };
}

/** Token count only (one encode): what length statistics need. */
export function countTokens(tokenizer: DatasetTokenizer, prompt: string, target: string): number {
  return tokenizer.encode(prompt + target, true).length;
}

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
