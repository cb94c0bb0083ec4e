// Turns an Example {prompt, target} into token ids and the position where the trained (target) tokens
// start, with the truncation rule that keeps the target.
//
// Tokenisation: ids = encode(prompt) (BOS included when the tokenizer adds one) followed by the target's
// tokens. The target's tokens are those of encode(prompt + target) after the prompt's own tokens when the
// prompt's tokens are a prefix of the joint encoding (so " happy" after "Tom felt" becomes the single token a
// SentencePiece model would use in running text); otherwise encode(target) without special tokens.
// With addEos (the trainer's default) the tokenizer's EOS id is appended to the target of every example
// WITHOUT a label — completion, instruction, chat and text targets — and is trained too, so a tuned model
// learns to stop. Labelled (classification) examples never get it: their label verbalisations are scored by
// likelihood against each other, and an EOS after each would change what is compared.
//
// Truncation to maxLength: the target is kept and the prompt is trimmed from the left, keeping a leading
// BOS. If the target alone does not fit, it is cut from the right so that one prompt token (BOS, or the
// last prompt token) still precedes it — the first target token needs a position that predicts it.
// The EOS rule is shared with the dataset token preview, so the preview shows what is trained.
import { appendsEos } from '../../datasets/stats/tokenize-example';
import type { TextTokenizer } from '../io/tokenizer';

export interface EncodedExample {
  /** Index into the caller's example list. */
  index: number;
  ids: number[];
  /** ids[targetStart..] are target tokens (trained); ids[..targetStart) are prompt tokens (masked). */
  targetStart: number;
  /** Whether the example was cut to fit maxLength. */
  isTruncated: boolean;
}

export interface EncodeOptions {
  maxLength: number;
  /** Append EOS to unlabelled examples' targets (see appendsEos). */
  addEos: boolean;
}

/** Prompt and target token ids before truncation. */
export function tokenizePair(tokenizer: TextTokenizer, prompt: string, target: string, addEos: boolean): { promptIds: number[]; targetIds: number[] } {
  const promptIds = tokenizer.encode(prompt);
  let targetIds: number[];
  const joint = tokenizer.encode(prompt + target);
  if (joint.length > promptIds.length && promptIds.every((id, i) => joint[i] === id)) {
    targetIds = joint.slice(promptIds.length);
  } else {
    targetIds = tokenizer.encode(target, { addSpecialTokens: false });
  }
  // A chat template may already end the reply with EOS: one is enough.
  if (addEos && tokenizer.eosTokenId !== null && targetIds[targetIds.length - 1] !== tokenizer.eosTokenId) targetIds = [...targetIds, tokenizer.eosTokenId];
  return { promptIds, targetIds };
}

/** Applies the truncation rule above to already-tokenised parts. */
export function truncatePair(promptIds: number[], targetIds: number[], maxLength: number, bosTokenId: number | null): { ids: number[]; targetStart: number; isTruncated: boolean } {
  if (maxLength < 2) throw new Error(`maxLength must be at least 2, got ${maxLength}`);
  if (promptIds.length + targetIds.length <= maxLength) {
    return { ids: [...promptIds, ...targetIds], targetStart: promptIds.length, isTruncated: false };
  }
  const hasBos = bosTokenId !== null && promptIds.length > 0 && promptIds[0] === bosTokenId;
  const target = targetIds.slice(0, maxLength - 1);
  const room = maxLength - target.length; // ≥ 1 prompt token
  let prompt: number[];
  if (promptIds.length === 0) prompt = [];
  else if (hasBos && room >= 2) prompt = [promptIds[0], ...promptIds.slice(Math.max(1, promptIds.length - (room - 1)))];
  else if (hasBos) prompt = [promptIds[0]];
  else prompt = promptIds.slice(promptIds.length - room);
  return { ids: [...prompt, ...target], targetStart: prompt.length, isTruncated: true };
}

export function encodeExample(tokenizer: TextTokenizer, example: { prompt: string; target: string; label?: string }, index: number, opts: EncodeOptions): EncodedExample {
  const { promptIds, targetIds } = tokenizePair(tokenizer, example.prompt, example.target, appendsEos(example, opts.addEos));
  const { ids, targetStart, isTruncated } = truncatePair(promptIds, targetIds, opts.maxLength, tokenizer.bosTokenId);
  return { index, ids, targetStart, isTruncated };
}

/** Positions whose logits are scored: position t predicts ids[t + 1], for every target token. */
export function targetPositions(example: Pick<EncodedExample, 'ids' | 'targetStart'>): number[] {
  const positions: number[] = [];
  for (let t = Math.max(1, example.targetStart); t < example.ids.length; t++) positions.push(t - 1);
  return positions;
}
