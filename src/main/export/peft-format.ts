// Hugging Face PEFT's adapter format for LoRA, Prefix-Tuning and Prompt Tuning: adapter_config.json plus
// adapter_model.safetensors (metadata {"format": "pt"}), laid out so that
// `PeftModel.from_pretrained(base, DIR)` loads it with no missing or unexpected keys. Also the reverse
// (folder → method, options, tensors) for the in-app reload check.
//
// Tensor names: LoRA `base_model.model.<module path>.lora_{A,B}.weight` ([r, in] / [out, r]; GPT-2's Conv1D
// layers too, with fan_in_fan_out true); prefix and prompt tuning one `prompt_embeddings` ([p, L·2·H_kv·d]
// — a reparameterised prefix is written as its MLP's output, so prefix_projection is false — or [p, D]).
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import type { MethodName, StateDict } from '../engine/methods/method';
import type { LoraAdapter } from '../engine/methods/lora';
import type { PrefixAdapter } from '../engine/methods/prefix';
import type { PromptAdapter } from '../engine/methods/prompt';
import { SafetensorsReader } from '../engine/io/safetensors';
import { readJsonStrict } from '../registry/files';
import { readStateDictFile } from '../registry/adapter-store';
import type { AttachedAdapter } from './engine-session';

/** The PEFT release these files are checked against (python/requirements.txt); adapter_config.json's peft_version. */
export const PEFT_VERSION = '0.21.2';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';

export const PEFT_METHODS: readonly MethodName[] = ['lora', 'prefix', 'prompt'];

export interface ExportFiles {
  config: Record<string, unknown>;
  tensors: StateDict;
}

/** adapter_config.json and tensors of an attached LoRA / prefix / prompt adapter. */
export function peftExportFiles(attached: AttachedAdapter, baseModelPath: string): ExportFiles {
  const common = { base_model_name_or_path: baseModelPath, revision: null, peft_version: PEFT_VERSION, task_type: 'CAUSAL_LM', inference_mode: true };
  const adapter = attached.adapter;
  switch (adapter.method) {
    case 'lora': {
      const lora = adapter as LoraAdapter;
      return { config: { ...lora.exportConfig(), ...common }, tensors: lora.stateDict() };
    }
    case 'prefix': {
      const prefix = adapter as PrefixAdapter;
      // We write the reparameterisation's output, which PEFT reads as a plain (unprojected) prefix.
      return {
        config: { ...prefix.exportConfig(), prefix_projection: false, ...common },
        tensors: { prompt_embeddings: prefix.exportPromptEmbeddings() },
      };
    }
    case 'prompt': {
      const prompt = adapter as PromptAdapter;
      const config = prompt.exportConfig();
      // A TEXT init would make PEFT load a tokenizer just to build values the saved tensor replaces.
      if (config.prompt_tuning_init === 'TEXT') {
        config.prompt_tuning_init = 'RANDOM';
        config.prompt_tuning_init_text = null;
      }
      return { config: { ...config, ...common }, tensors: prompt.stateDict() };
    }
    default:
      throw new ApiError('unsupported', `method ${adapter.method} has no PEFT format`, { field: 'format' });
  }
}

export interface ReadBack {
  method: MethodName;
  options: Record<string, unknown>;
  state: StateDict;
}

function field<T>(config: Record<string, unknown>, name: string, check: (v: unknown) => boolean, file: string): T {
  const value = config[name];
  if (!check(value)) throw new ApiError('bad_file', `${name} is ${JSON.stringify(value)}`, { file, field: name });
  return value as T;
}

const isInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;

/** Reads a PEFT folder written by peftExportFiles back as our method, options and tensors. */
export function readPeftFolder(dir: string): ReadBack {
  const configPath = join(dir, PEFT_CONFIG_FILE);
  const weightsPath = join(dir, PEFT_WEIGHTS_FILE);
  const config = readJsonStrict(configPath);
  const reader = SafetensorsReader.open(weightsPath);
  const format = reader.metadata.format;
  reader.close();
  if (format !== 'pt') throw new ApiError('bad_file', `safetensors metadata format is ${JSON.stringify(format)}, PEFT expects "pt"`, { file: weightsPath });
  const state = readStateDictFile(weightsPath);
  switch (config.peft_type) {
    case 'LORA': {
      const targets = config.target_modules;
      if (!(targets === 'all-linear' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')))) {
        throw new ApiError('bad_file', 'target_modules must be a list of module names', { file: configPath, field: 'target_modules' });
      }
      if (config.bias !== undefined && config.bias !== 'none') throw new ApiError('unsupported', `LoRA bias "${String(config.bias)}" is not supported`, { file: configPath, field: 'bias' });
      return {
        method: 'lora',
        options: {
          rank: field<number>(config, 'r', isInt, configPath),
          alpha: field<number>(config, 'lora_alpha', (v) => typeof v === 'number', configPath),
          dropout: typeof config.lora_dropout === 'number' ? config.lora_dropout : 0,
          rsLora: config.use_rslora === true,
          targets,
        },
        state,
      };
    }
    case 'PREFIX_TUNING':
      if (config.prefix_projection === true) {
        throw new ApiError('unsupported', 'a projected prefix (prefix_projection true) is not a format we write', { file: configPath, field: 'prefix_projection' });
      }
      return { method: 'prefix', options: { numVirtualTokens: field<number>(config, 'num_virtual_tokens', isInt, configPath), projection: false }, state };
    case 'PROMPT_TUNING':
      return { method: 'prompt', options: { numVirtualTokens: field<number>(config, 'num_virtual_tokens', isInt, configPath), init: 'random' }, state };
    default:
      throw new ApiError('unsupported', `peft_type ${JSON.stringify(config.peft_type)} is not LORA, PREFIX_TUNING or PROMPT_TUNING`, { file: configPath, field: 'peft_type' });
  }
}
