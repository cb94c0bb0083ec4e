// One model on disk → one discovery entry, from headers only: a GGUF file (general.architecture, tensor table) or a
// Hugging Face layout folder (config.json model_type, safetensors headers). Never throws: a defect becomes `error`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { readJson } from '../../engine/io/hf-folder';
import { brokenEntry, errorLine, type DiscoveredModel, type DiscoverySource } from './types';
import { summarizeSafetensors } from './safetensors-summary';

const INDEX_FILE = 'model.safetensors.index.json';
/** Files a model folder has beside config.json when its weights are in a format this app does not read. */
const OTHER_WEIGHTS = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'];

export async function describeGguf(path: string, name: string, source: DiscoverySource): Promise<DiscoveredModel> {
  try {
    const file = await readGgufFile(path);
    const quantization: Record<string, number> = {};
    let parameters = 0;
    for (const t of file.tensors) {
      quantization[t.type] = (quantization[t.type] ?? 0) + 1;
      parameters += t.elements;
    }
    const arch = file.metadata['general.architecture'];
    return { name, path, format: 'gguf', architecture: typeof arch === 'string' ? arch : null, parameters, quantization, source, sizeBytes: file.size };
  } catch (err) {
    return brokenEntry({ name, path, format: 'gguf', source }, errorLine(err, path));
  }
}

/** True when `dir` holds config.json and weights (safetensors, or another framework's we can name). */
export function looksLikeHfFolder(dir: string, names: readonly string[]): boolean {
  return names.includes('config.json') && names.some((n) => n.endsWith('.safetensors') || n === INDEX_FILE || OTHER_WEIGHTS.includes(n));
}

/** `names`: the folder's entries, as the scan read them (bounded there). */
export function describeHfFolder(dir: string, names: readonly string[], name: string, source: DiscoverySource): DiscoveredModel {
  try {
    const config = readJson(join(dir, 'config.json'), true);
    const weights = weightFiles(dir, names);
    let parameters = 0;
    let sizeBytes = 0;
    const quantization: Record<string, number> = {};
    for (const file of weights) {
      const summary = summarizeSafetensors(file);
      parameters += summary.parameters;
      sizeBytes += summary.sizeBytes;
      for (const [dtype, count] of Object.entries(summary.dtypes)) quantization[dtype] = (quantization[dtype] ?? 0) + count;
    }
    const modelType = typeof config.model_type === 'string' ? config.model_type : null;
    return { name, path: dir, format: 'hf', architecture: modelType, parameters, quantization, source, sizeBytes };
  } catch (err) {
    return brokenEntry({ name, path: dir, format: 'hf', source }, errorLine(err, dir));
  }
}

/** The safetensors files that hold the weights: the index's, else model.safetensors, else every *.safetensors. */
function weightFiles(dir: string, names: readonly string[]): string[] {
  const indexPath = join(dir, INDEX_FILE);
  if (existsSync(indexPath)) {
    const index = readJson(indexPath, true);
    const map = index.weight_map;
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new ApiError('bad_file', 'has no weight_map object', { file: indexPath });
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    // A shard name with a separator could point outside the folder.
    const bad = files.find((f) => typeof f !== 'string' || !/^[^/\\]+\.safetensors$/.test(f) || f.startsWith('..'));
    if (bad !== undefined) throw new ApiError('bad_file', `weight_map names ${JSON.stringify(bad)?.slice(0, 80)}, not a .safetensors file in the folder`, { file: indexPath });
    return (files as string[]).sort().map((f) => join(dir, f));
  }
  if (names.includes('model.safetensors')) return [join(dir, 'model.safetensors')];
  const all = names.filter((n) => n.endsWith('.safetensors')).sort();
  if (all.length > 0) return all.map((n) => join(dir, n));
  const other = OTHER_WEIGHTS.find((n) => names.includes(n));
  if (other) throw new ApiError('unsupported', 'the weights are not in safetensors format, the only one PrefixLab reads', { file: join(dir, other) });
  throw new ApiError('not_found', 'no weights (*.safetensors) next to config.json (download incomplete?)', { file: dir });
}
