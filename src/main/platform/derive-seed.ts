// Every random stream of a run (each initialised tensor, LoRA dropout, the data order, the splits) gets its
// own seed, hashed from the run's seed and a name for what the stream is for. Offsets such as `seed + i`
// made streams of neighbouring seeds coincide (LoRA seed 2's first A was seed 1's second A), so "5 seeds"
// were not 5 independent initialisations; a hash of (seed, purpose) has no such overlaps.
// Main-process code (and its workers) only, so node:crypto is at hand.
import { createHash } from 'node:crypto';

/**
 * The seed of the stream `purpose` (e.g. 'lora/init/<tensor name>', 'train/data-order') of run seed
 * `runSeed`: the first 48 bits of sha256("<runSeed>\0<purpose>") — an integer that doubles hold exactly, so
 * tfjs's seeded ops (which key their generator on the number's text) and Rng.fromSeed (which mixes in the
 * bits above 32) both use all of it.
 */
export function deriveSeed(runSeed: number, purpose: string): number {
  if (!Number.isSafeInteger(runSeed)) throw new Error(`a seed must be a safe integer, got ${runSeed}`);
  if (purpose === '') throw new Error('deriveSeed needs a purpose');
  return createHash('sha256').update(`${runSeed}\u0000${purpose}`).digest().readUIntBE(0, 6);
}

/** The seed that initialises tensor `tensorName` (its state-dict name) of a `method` adapter. */
export function initSeed(runSeed: number, method: string, tensorName: string): number {
  return deriveSeed(runSeed, `${method}/init/${tensorName}`);
}

/** Fixed purposes outside the method initialisers (one place, so tests can check them all). */
export const SEED_PURPOSES = {
  /** The trainer's data order (shuffles of every epoch). */
  dataOrder: 'train/data-order',
  /** The held-out eval split, drawn from the split seed. */
  evalSplit: 'split/eval',
  /** k-shot training examples per label, drawn from the run seed. */
  kShot: 'split/k-shot',
  /** The learning-rate tuning's validation split, drawn from the split seed. */
  validationSplit: 'split/validation',
  /** A dataset's stored split (`prefixlab data split`, import), drawn from its seed. */
  datasetSplit: 'split/dataset',
} as const;

/** The seed of LoRA dropout call `call` (1, 2, …): masks differ between calls and repeat across runs. */
export function dropoutSeed(runSeed: number, call: number): number {
  return deriveSeed(runSeed, `lora/dropout/${call}`);
}
