// A GGUF model file as one of our models: header → architecture config → every weight under its Hugging Face
// name and shape, dequantized to float32. The header is checked whole (architecture, each tensor's presence,
// shape and type) before any tensor data is read or allocated.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { BaseCausalLM, type CausalLM, type ModelConfig } from '../../models/causal-lm';
import { gemma3WeightShapes, type Gemma3Config } from '../../models/gemma3';
import { GptNeoxModel, gptNeoxWeightShapes, type GptNeoxConfig } from '../../models/gpt-neox';
import { Gpt2Model, gpt2WeightShapes, type Gpt2Config } from '../../models/gpt2';
import { LlamaModel, llamaWeightShapes, type LlamaConfig } from '../../models/llama';
import { Phi3Model, phi3WeightShapes, type Phi3Config } from '../../models/phi3';
import { Qwen3Model, qwen3WeightShapes, type Qwen3Config } from '../../models/qwen3';
import { checkLayerCount, checkMemory, type GenerationDefaults, type LoadOptions } from '../model-files';
import { assertDequantizable } from './dequantize';
import { readGgufFile, type GgufFile } from './gguf-file';
import { createGemma3FromGguf, gemma3ConfigFromGguf, gemma3WeightSources } from './gguf-gemma3';
import { gpt2ConfigFromGguf, gpt2WeightSources } from './gguf-gpt2';
import { gptNeoxConfigFromGguf, gptNeoxWeightSources } from './gguf-gptneox';
import { ggufShapeOf, toHfLayout, type GgufWeightSource } from './gguf-layout';
import { llamaConfigFromGguf, llamaWeightSources } from './gguf-llama';
import { phi3ConfigFromGguf, phi3WeightSources } from './gguf-phi3';
import { qwen2ConfigFromGguf, qwen2WeightSources, qwen3ConfigFromGguf, qwen3WeightSources } from './gguf-qwen';
import { isCompactType, QuantizedGgufTensor } from './quantized-gguf-tensor';
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

const qwen2: GgufArchitecture<LlamaConfig> = {
  config: qwen2ConfigFromGguf,
  weightShapes: llamaWeightShapes,
  weightSources: qwen2WeightSources,
  create: (config, weights) => new LlamaModel(config, weights),
};

const qwen3: GgufArchitecture<Qwen3Config> = {
  config: qwen3ConfigFromGguf,
  weightShapes: qwen3WeightShapes,
  weightSources: qwen3WeightSources,
  create: (config, weights) => new Qwen3Model(config, weights),
};

const phi3: GgufArchitecture<Phi3Config> = {
  config: phi3ConfigFromGguf,
  weightShapes: phi3WeightShapes,
  weightSources: phi3WeightSources,
  create: (config, weights) => new Phi3Model(config, weights),
};

const gpt2: GgufArchitecture<Gpt2Config> = {
  config: gpt2ConfigFromGguf,
  weightShapes: gpt2WeightShapes,
  weightSources: gpt2WeightSources,
  create: (config, weights) => new Gpt2Model(config, weights),
};

const gptneox: GgufArchitecture<GptNeoxConfig> = {
  config: gptNeoxConfigFromGguf,
  weightShapes: gptNeoxWeightShapes,
  weightSources: gptNeoxWeightSources,
  create: (config, weights) => new GptNeoxModel(config, weights),
};

const gemma3: GgufArchitecture<Gemma3Config> = {
  config: gemma3ConfigFromGguf,
  weightShapes: gemma3WeightShapes,
  weightSources: gemma3WeightSources,
  create: createGemma3FromGguf,
};

/** general.architecture → its mapping (llama.cpp's architecture names: gguf-py constants.py MODEL_ARCH_NAMES). */
const ARCHITECTURES: Record<string, GgufArchitecture<ModelConfig>> = {
  llama: llama as unknown as GgufArchitecture<ModelConfig>,
  qwen2: qwen2 as unknown as GgufArchitecture<ModelConfig>,
  qwen3: qwen3 as unknown as GgufArchitecture<ModelConfig>,
  phi3: phi3 as unknown as GgufArchitecture<ModelConfig>,
  gpt2: gpt2 as unknown as GgufArchitecture<ModelConfig>,
  gptneox: gptneox as unknown as GgufArchitecture<ModelConfig>,
  gemma3: gemma3 as unknown as GgufArchitecture<ModelConfig>,
};

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
  /** HF weight name → its HF shape. */
  shapes: Map<string, number[]>;
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
    const expected = ggufShapeOf(source, shape);
    if (info.shape.length !== expected.length || info.shape.some((d, i) => d !== expected[i])) {
      throw new ApiError('bad_file', `tensor ${info.name} has shape [${info.shape.join(', ')}], but the metadata implies [${expected.join(', ')}]`, {
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
  return { file, config, quantization, mainType, sources, shapes, create: (weights) => spec.create(config, weights) };
}

export interface GgufModel {
  model: CausalLM;
  generation: GenerationDefaults;
  quantization: Record<string, number>;
}

/**
 * Loads every weight of the GGUF file at `path` as float32 (refusing it first if it cannot fit in memory). With
 * opts.quantizedBase the layers' linear matrices stored in a compact type stay as their file bytes instead and
 * are dequantized inside each product (quantized-linear.ts): a frozen base only (they cannot be made trainable).
 */
export async function loadGguf(path: string, opts: LoadOptions = {}): Promise<GgufModel> {
  const info = await inspectGguf(path);
  checkMemory(info.config, path, opts.maxBytes);
  const weights = new Map<string, tf.Tensor>();
  const quantized = new Map<string, QuantizedGgufTensor>();
  const tensors = new Map(info.file.tensors.map((t) => [t.name, t]));
  const reader = GgufTensorReader.open(info.file);
  try {
    for (const [name, shape] of info.shapes) {
      const source = info.sources.get(name)!; // inspectGguf checked every weight has one
      const stored = tensors.get(source.tensor)!;
      // Linear matrices and embedding tables alike: lookups dequantize just the rows they read (embeddingRows).
      if (opts.quantizedBase && shape.length === 2 && isCompactType(stored.type)) {
        quantized.set(name, new QuantizedGgufTensor(stored, source, reader.readBytes(source.tensor), shape, path));
        continue;
      }
      const { info: tensor, data } = reader.read(source.tensor);
      weights.set(name, tf.tensor(toHfLayout(source, data, tensor.shape), shape, 'float32'));
    }
  } catch (err) {
    for (const w of weights.values()) w.dispose();
    throw err;
  } finally {
    reader.close();
  }
  const { config } = info;
  const generation: GenerationDefaults = { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds, padTokenId: config.padTokenId };
  const model = info.create(weights);
  if (quantized.size) {
    if (!(model instanceof BaseCausalLM)) throw new Error(`a ${config.architecture} model cannot keep quantized weights`);
    model.keepQuantized(quantized);
  }
  return { model, generation, quantization: info.quantization };
}
