// What a quantized frozen base (loadGguf's quantizedBase) keeps as file bytes instead of float32 tensors: the
// memory estimate counts these bytes, not four per parameter twice over, for such a run.
import { EMBEDDING_WEIGHTS } from '../../models/causal-lm';
import type { GgufModelInfo } from './gguf-model';
import { isCompactType } from './quantized-gguf-tensor';

export interface CompactWeights {
  /** Parameters held compact (a tensor that backs two weights counted once, as config.parameters counts it). */
  params: number;
  /** Their bytes in the file. */
  bytes: number;
  /** Whether the token embedding table is among them (its lookups then read rows from the blocks). */
  embeddingTable: boolean;
}

/** The weights loadGguf keeps compact under quantizedBase: 2-D weights stored in a type other than F32. */
export function compactWeightsOf(info: Pick<GgufModelInfo, 'config' | 'file' | 'sources' | 'shapes'>): CompactWeights {
  const tensors = new Map(info.file.tensors.map((t) => [t.name, t]));
  const counted = new Set<string>();
  const compact: CompactWeights = { params: 0, bytes: 0, embeddingTable: false };
  for (const [name, shape] of info.shapes) {
    const source = info.sources.get(name);
    const stored = source && tensors.get(source.tensor);
    if (!stored || shape.length !== 2 || !isCompactType(stored.type)) continue;
    if (!counted.has(stored.name)) {
      counted.add(stored.name);
      compact.params += shape[0] * shape[1];
      compact.bytes += stored.byteLength;
    }
    // The token table, not GPT-2's position table (also an embedding weight).
    if (EMBEDDING_WEIGHTS.has(name) && shape[0] === info.config.vocabSize) compact.embeddingTable = true;
  }
  return compact;
}
