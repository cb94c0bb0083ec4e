// A Hugging Face folder's model written as one GGUF file, as llama.cpp's convert_hf_to_gguf.py would: metadata
// and tokenizer from hf-gguf-metadata.ts, each weight under the GGUF import's own name map (the loader's
// weight sources, read backwards by gguf-tensors.ts: no second map). Used for base.gguf beside a gguf-lora
// adapter of an HF-folder base, and for the merged model.gguf of one.
import { ApiError } from '@shared/errors';
import type { ModelConfig } from '../../engine/models/causal-lm';
import type { Gpt2Config } from '../../engine/models/gpt2';
import { gpt2WeightShapes } from '../../engine/models/gpt2';
import { gemma3WeightShapes, type Gemma3Config } from '../../engine/models/gemma3';
import { gptNeoxWeightShapes, type GptNeoxConfig } from '../../engine/models/gpt-neox';
import { llamaWeightShapes, type LlamaConfig } from '../../engine/models/llama';
import { phi3WeightShapes, type Phi3Config } from '../../engine/models/phi3';
import { qwen3WeightShapes, type Qwen3Config } from '../../engine/models/qwen3';
import { gemma3WeightSources } from '../../engine/io/gguf/gguf-gemma3';
import { gpt2WeightSources } from '../../engine/io/gguf/gguf-gpt2';
import { gptNeoxWeightSources } from '../../engine/io/gguf/gguf-gptneox';
import { llamaWeightSources } from '../../engine/io/gguf/gguf-llama';
import { phi3WeightSources } from '../../engine/io/gguf/gguf-phi3';
import { qwen2WeightSources, qwen3WeightSources } from '../../engine/io/gguf/gguf-qwen';
import { encodeGgufTensor, ggufLayoutValues, planGgufTensor, type GgufTensorMap } from './gguf-tensors';
import { f32Bytes, writeGguf, type GgufWriteTensor } from './gguf-writer';
import { hfGgufMetadata, LLAMA_FILE_TYPE } from './hf-gguf-metadata';
import type { QuantType } from './quantize';

/** The base file's tensor type: F32 keeps an F32 folder's weights exactly; f16 / q8_0 as the merged export's --quant. */
export type HfGgufType = 'f32' | QuantType;

export const HF_BASE_GGUF_FILE = 'base.gguf';

/** Our config → the GGUF import's map for it (the same functions the loader reads a GGUF file with). */
export function hfTensorMap(config: ModelConfig, folder: string): GgufTensorMap {
  const c = config as never;
  const pick = (): [Map<string, import('../../engine/io/gguf/gguf-layout').GgufWeightSource>, Map<string, number[]>, string] => {
    switch (config.architecture) {
      case 'llama':
      case 'mistral':
        // The converter's LlamaModel (which MistralForCausalLM also takes) permutes q/k rows.
        return [llamaWeightSources(c as LlamaConfig, true), llamaWeightShapes(c as LlamaConfig), 'llama'];
      case 'qwen2':
        return [qwen2WeightSources(c as LlamaConfig), llamaWeightShapes(c as LlamaConfig), 'qwen2'];
      case 'qwen3':
        return [qwen3WeightSources(c as Qwen3Config), qwen3WeightShapes(c as Qwen3Config), 'qwen3'];
      case 'phi3':
        return [phi3WeightSources(c as Phi3Config), phi3WeightShapes(c as Phi3Config), 'phi3'];
      case 'gpt2':
        return [gpt2WeightSources(c as Gpt2Config), gpt2WeightShapes(c as Gpt2Config), 'gpt2'];
      case 'gpt_neox':
        return [gptNeoxWeightSources(c as GptNeoxConfig), gptNeoxWeightShapes(c as GptNeoxConfig), 'gptneox'];
      case 'gemma3_text':
        return [gemma3WeightSources(c as Gemma3Config), gemma3WeightShapes(c as Gemma3Config), 'gemma3'];
      default:
        throw new ApiError(
          'unsupported',
          `a ${config.architecture} folder cannot be written as GGUF by PrefixLab yet; export with --format merged and convert it with llama.cpp's convert_hf_to_gguf.py`,
          { file: folder, field: 'model_type' },
        );
    }
  };
  const [sources, shapes, architecture] = pick();
  return { architecture, sources, shapes };
}

/**
 * Writes the model of the HF folder `folder` (config `config`, weights `weight(hfName)` in HF layout) to `path`
 * as GGUF of type `type`. Returns the map and, per weight, its bytes as written (the caller's reload reference).
 */
export async function writeHfGguf(opts: {
  path: string;
  folder: string;
  config: ModelConfig;
  weight: (name: string) => Float32Array | undefined;
  type: HfGgufType;
  name: string;
}): Promise<{ map: GgufTensorMap; written: Map<string, Uint8Array> }> {
  const { path, folder, config, weight, type } = opts;
  const map = hfTensorMap(config, folder);
  const fileType = type === 'f32' ? LLAMA_FILE_TYPE.F32 : type === 'f16' ? LLAMA_FILE_TYPE.F16 : LLAMA_FILE_TYPE.Q8_0;
  const description = hfGgufMetadata(folder, { name: opts.name, fileType });
  if (description.architecture !== map.architecture) {
    throw new ApiError('bad_file', `config.json's model_type makes ${description.architecture}, but the loaded model is ${map.architecture}`, {
      file: folder,
      field: 'model_type',
    });
  }
  const written = new Map<string, Uint8Array>();
  const tensors: GgufWriteTensor[] = description.extraTensors.map((t) => ({ name: t.name, type: 'F32', shape: [t.values.length], data: () => f32Bytes(t.values) }));
  for (const name of map.shapes.keys()) {
    const plan = planGgufTensor(map, name, type === 'f32' ? 'f16' : type);
    tensors.push({
      name: plan.name,
      type: type === 'f32' ? 'F32' : plan.type,
      shape: plan.shape,
      data: () => {
        const bytes = type === 'f32' ? f32Bytes(ggufLayoutValues(map, name, weight(name))) : encodeGgufTensor(map, name, weight(name), type).data;
        written.set(name, bytes);
        return bytes;
      },
    });
  }
  await writeGguf(path, { metadata: description.metadata, tensors });
  return { map, written };
}
