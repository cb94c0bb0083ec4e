// A GGUF model file as one of our models: header → architecture config → every weight under its Hugging Face
// name and shape, dequantized to float32. The header is checked whole (architecture, each tensor's presence,
// shape and type) before any tensor data is read or allocated.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { CausalLM, ModelConfig } from '../../models/causal-lm';
import { LlamaModel, llamaWeightShapes, type LlamaConfig } from '../../models/llama';
import { checkLayerCount, checkMemory, type GenerationDefaults, type LoadOptions } from '../model-files';
import { assertDequantizable } from './dequantize';
import { readGgufFile, type GgufFile } from './gguf-file';
import { llamaConfigFromGguf, llamaWeightSources, unpermuteRows, type GgufWeightSource } from './gguf-llama';
import { GgufTensorReader } from './read-tensor';

interface GgufArchitecture<C extends ModelConfig> {
  config(file: GgufFile): C;
  weightShapes(config: C): Map<string, number[]>;
  weightSources(config: C): Map<string, GgufWeightSource>;
  create(config: C, weights: Map<string, tf.Tensor>): CausalLM;
}

const llama: GgufArchitecture<LlamaConfig> = {
  config: llamaConfigFromGguf,
  weightShapes: llamaWeightShapes,
  weightSources: llamaWeightSources,
  create: (config, weights) => new LlamaModel(config, weights),
};

const ARCHITECTURES: Record<string, GgufArchitecture<ModelConfig>> = { llama: llama as unknown as GgufArchitecture<ModelConfig> };

/** general.architecture values we can load. */
export const SUPPORTED_GGUF_ARCHITECTURES = Object.keys(ARCHITECTURES);

export interface GgufModelInfo {
  file: GgufFile;
  config: ModelConfig;
  /** Tensor count per GGML type, e.g. { Q4_1: 210, F32: 61, Q8_0: 1 }. */
  quantization: Record<string, number>;
  /** The GGML type holding the most values (what the file is "quantized as", e.g. Q4_1). */
  mainType: string;
  /** HF weight name → where it is in the file. */
  sources: Map<string, GgufWeightSource>;
  create(weights: Map<string, tf.Tensor>): CausalLM;
}

/** Reads and checks the header of the GGUF file at `path` (no tensor data is read). */
export async function inspectGguf(path: string): Promise<GgufModelInfo> {
  const file = await readGgufFile(path);
  const arch = file.metadata['general.architecture'];
  const spec = typeof arch === 'string' && Object.hasOwn(ARCHITECTURES, arch) ? ARCHITECTURES[arch] : undefined;
  if (!spec) {
    const what = arch === undefined ? 'has no general.architecture' : `has architecture ${JSON.stringify(arch).slice(0, 80)}, which is not supported`;
    throw new ApiError('unsupported', `GGUF file ${what} (supported: ${SUPPORTED_GGUF_ARCHITECTURES.join(', ')})`, { file: path, field: 'general.architecture' });
  }
  checkLayerCount(file.metadata[`${arch}.block_count`], `${arch}.block_count`, path);
  const config = spec.config(file);
  const sources = spec.weightSources(config);
  const shapes = spec.weightShapes(config);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  for (const [name, shape] of shapes) {
    const source = sources.get(name);
    const info = source && byName.get(source.tensor);
    if (!source || !info) {
      throw new ApiError('bad_file', `GGUF file has no tensor ${source?.tensor ?? name} (for ${name}, shape [${shape.join(', ')}])`, { file: path, field: source?.tensor ?? name });
    }
    // GGUF lists ne0 (the contiguous dimension) first: [in, out] for a matrix that HF stores as [out, in].
    const hfShape = [...info.shape].reverse();
    if (hfShape.length !== shape.length || hfShape.some((d, i) => d !== shape[i])) {
      throw new ApiError('bad_file', `tensor ${info.name} has shape [${info.shape.join(', ')}], but the metadata implies [${[...shape].reverse().join(', ')}]`, {
        file: path,
        field: info.name,
      });
    }
    assertDequantizable(info.type, { tensor: info.name, file: path });
  }
  const quantization: Record<string, number> = {};
  const values: Record<string, number> = {};
  for (const t of file.tensors) {
    quantization[t.type] = (quantization[t.type] ?? 0) + 1;
    values[t.type] = (values[t.type] ?? 0) + t.elements;
  }
  const mainType = Object.keys(values).reduce((a, b) => (values[b] > values[a] ? b : a));
  return { file, config, quantization, mainType, sources, create: (weights) => spec.create(config, weights) };
}

export interface GgufModel {
  model: CausalLM;
  generation: GenerationDefaults;
  quantization: Record<string, number>;
}

/** Loads every weight of the GGUF file at `path` as float32 (refusing it first if it cannot fit in memory). */
export async function loadGguf(path: string, opts: LoadOptions = {}): Promise<GgufModel> {
  const info = await inspectGguf(path);
  checkMemory(info.config, path, opts.maxBytes);
  const weights = new Map<string, tf.Tensor>();
  const reader = GgufTensorReader.open(info.file);
  try {
    for (const [name, source] of info.sources) {
      const { info: tensor, data } = reader.read(source.tensor);
      const shape = [...tensor.shape].reverse();
      const values = source.permuteHeads ? unpermuteRows(data, source.permuteHeads, shape[1]) : data;
      weights.set(name, tf.tensor(values, shape, 'float32'));
    }
  } catch (err) {
    for (const w of weights.values()) w.dispose();
    throw err;
  } finally {
    reader.close();
  }
  const { config } = info;
  const generation: GenerationDefaults = { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds, padTokenId: config.padTokenId };
  return { model: info.create(weights), generation, quantization: info.quantization };
}
