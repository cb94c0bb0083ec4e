// How an example becomes token ids, and which of them are prompt (masked from the loss) and which are
// target (trained). The trainer must use this same rule, or the preview would lie.
//
// Rule: ids = encode(prompt + target) with special tokens; the prompt part is the longest common prefix
// of those ids and encode(prompt). Encoding the joint text keeps the tokenisation the model saw in
// pre-training (SentencePiece would add a second "▁" to a separately encoded " positive"); a boundary
// token that merges prompt and target characters counts as target, so the first target character is
// always trained. With EOS on (the trainer's addEos, default on) the model's EOS id follows the target of
// every unlabelled example (completion, instruction, chat, text) as one more trained token; labelled
// (classification) examples never get it (appendsEos: the trainer's encode.ts uses the same rule).
import type { TextTokenizer } from '../../engine/io/tokenizer';

/**
 * The part of the engine's TextTokenizer the dataset code calls: any loaded tokenizer is one, as it is
 * (engine/io/load-model.ts loadTokenizer); tests may pass a smaller stand-in. Without eosTokenId no EOS is
 * appended.
 */
export type DatasetTokenizer = Pick<TextTokenizer, 'encode' | 'decode'> & Partial<Pick<TextTokenizer, 'eosTokenId'>>;

/** Whether `example`'s target ends with EOS when EOS is on: only unlabelled (non-classification) examples. */
export function appendsEos(example: { label?: string }, addEos: boolean): boolean {
  return addEos && example.label === undefined;
}

export interface TokenizedExample {
  ids: number[];
  /** ids[0 .. promptLength) are prompt tokens. */
  promptLength: number;
}

/** `appendEos`: end the target with the tokenizer's EOS (unless it already ends with it; see appendsEos). */
export function tokenizeExample(tokenizer: DatasetTokenizer, prompt: string, target: string, appendEos = false): TokenizedExample {
  const joint = tokenizer.encode(prompt + target, { addSpecialTokens: true });
  const eos = tokenizer.eosTokenId ?? null;
  const ids = appendEos && eos !== null && joint[joint.length - 1] !== eos ? [...joint, eos] : joint;
  // Only special tokens (BOS) precede the text of an empty prompt: they are context, not something to learn.
  const promptIds = tokenizer.encode(prompt, { addSpecialTokens: true });
  return { ids, promptLength: commonPrefix(joint, promptIds) };
}

/** Token count only (one encode): what length statistics need. */
export function countTokens(tokenizer: DatasetTokenizer, prompt: string, target: string): number {
  return tokenizer.encode(prompt + target, { addSpecialTokens: true }).length;
}

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
