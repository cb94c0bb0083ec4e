// Hugging Face PEFT's adapter format, for every method whose definition has `exports.peft` (LoRA, Prefix-Tuning,
// Prompt Tuning): adapter_config.json plus adapter_model.safetensors (metadata {"format": "pt"}), laid out so that
// `PeftModel.from_pretrained(base, DIR)` loads it with no missing or unexpected keys. Also the reverse
// (folder → method, options, tensors) for the in-app reload check. The method writes its config fields and
// tensors and reads its options back; this file adds the fields every PEFT config has and does the files.
//
// Tensor names: LoRA `base_model.model.<module path>.lora_{A,B}.weight` ([r, in] / [out, r]; GPT-2's Conv1D
// layers too, with fan_in_fan_out true); prefix and prompt tuning one `prompt_embeddings` ([p, L·2·H_kv·d]
// — a reparameterised prefix is written as its MLP's output, so prefix_projection is false — or [p, D]).
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import type { MethodName, StateDict } from '../engine/methods/method';
import { allMethods, getMethod } from '../engine/methods/registry';
import { SafetensorsReader } from '../engine/io/safetensors';
import { readJsonStrict } from '../registry/files';
import { readStateDictFile } from '../registry/adapter-store';
import type { AttachedAdapter } from './engine-session';

/** The PEFT release these files are checked against (python/requirements.txt); adapter_config.json's peft_version. */
export const PEFT_VERSION = '0.21.2';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';

export interface ExportFiles {
  config: Record<string, unknown>;
  tensors: StateDict;
}

/** adapter_config.json and tensors of an attached adapter whose method has a PEFT format (its definition writes them). */
export function peftExportFiles(attached: AttachedAdapter, baseModelPath: string): ExportFiles {
  const common = { base_model_name_or_path: baseModelPath, revision: null, peft_version: PEFT_VERSION, task_type: 'CAUSAL_LM', inference_mode: true };
  const method = attached.adapter.method;
  const peft = getMethod(method).exports.peft;
  if (!peft) throw new ApiError('unsupported', `method ${method} has no PEFT format`, { field: 'format' });
  const { config, tensors } = peft.write(attached.adapter);
  return { config: { ...config, peft_type: peft.peftType, ...common }, tensors };
}

export interface ReadBack {
  method: MethodName;
  options: Record<string, unknown>;
  state: StateDict;
}

/** Reads a PEFT folder written by peftExportFiles back as our method (the one whose peft_type it is), options and tensors. */
export function readPeftFolder(dir: string): ReadBack {
  const configPath = join(dir, PEFT_CONFIG_FILE);
  const weightsPath = join(dir, PEFT_WEIGHTS_FILE);
  const config = readJsonStrict(configPath);
  const reader = SafetensorsReader.open(weightsPath);
  const format = reader.metadata.format;
  reader.close();
  if (format !== 'pt') throw new ApiError('bad_file', `safetensors metadata format is ${JSON.stringify(format)}, PEFT expects "pt"`, { file: weightsPath });
  const state = readStateDictFile(weightsPath);
  const writers = allMethods().flatMap((m) => (m.exports.peft ? [{ method: m.name, peft: m.exports.peft }] : []));
  const writer = writers.find((w) => w.peft.peftType === config.peft_type);
  if (!writer) {
    const known = writers.map((w) => w.peft.peftType);
    const list = known.length > 1 ? `${known.slice(0, -1).join(', ')} or ${known[known.length - 1]}` : (known[0] ?? 'a type we write');
    throw new ApiError('unsupported', `peft_type ${JSON.stringify(config.peft_type)} is not ${list}`, { file: configPath, field: 'peft_type' });
  }
  return { method: writer.method, options: writer.peft.readOptions(config, configPath), state };
}
