// The committed transformers references of the real GGUF models (tests/fixtures/gguf, written by
// make_gguf_references.py): last-position logits per sequence and greedy ids, shared by the per-model tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TransformersReference {
  model: string;
  vocab: number;
  logitsFile: string;
  logitsSha256: string;
  tolerance: number;
  sequences: { text: string; ids: number[]; offset: number; greedy?: number[] }[];
}

const FIXTURES = join(import.meta.dirname, '../../../../../../tests/fixtures/gguf');

/** A reference JSON and its logits file's bytes (float32, sequence after sequence). */
export function readTransformersReference(file: string): { reference: TransformersReference; logitsBytes: Buffer } {
  const reference = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as TransformersReference;
  return { reference, logitsBytes: readFileSync(join(FIXTURES, reference.logitsFile)) };
}

/** The largest |ours − transformers'| over the vocabulary at a sequence's last position. */
export function maxLogitDifference(ours: readonly number[], reference: TransformersReference, logitsBytes: Buffer, sequence: { offset: number }): number {
  const want = new Float32Array(logitsBytes.buffer, logitsBytes.byteOffset + sequence.offset * 4, reference.vocab);
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - want[i]));
  return maxDiff;
}
