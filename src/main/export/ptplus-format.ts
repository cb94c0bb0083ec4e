// PrefixLab's documented Prefix-Tuning+ format (no PEFT type exists): adapter_config.json with
// "peft_type": "PREFIX_TUNING_PLUS" and adapter_model.safetensors holding, per adapted layer i and with <attn>
// the family's attention module path (model.layers.{i}.self_attn, transformer.h.{i}.attn,
// gpt_neox.layers.{i}.attention):
//   base_model.model.<attn>.ptplus_memory          [H, d_φ, d]   (cross-head: [H·d_φ, H·d])
//   base_model.model.<attn>.ptplus_phi.weight/bias [d_φ, d] / [d_φ]   (feature_map "mlp")
//   base_model.model.<attn>.ptplus_phi_mean        [H, d_φ]      (phi_center "data-mean")
//   base_model.model.<attn>.ptplus_log_normaliser  [H, d_φ]      (variant "normalised")
// python/prefixlab_ptplus attaches it to a transformers model. See docs/export.md. The method's definition
// (exports.ptplus) writes its config fields and tensors and reads its options back; this file does the files.
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { allMethods, getMethod } from '../engine/methods/registry';
import { SafetensorsReader } from '../engine/io/safetensors';
import { readJsonStrict } from '../registry/files';
import { readStateDictFile } from '../registry/adapter-store';
import type { AttachedAdapter } from './engine-session';
import { PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, type ExportFiles, type ReadBack } from './peft-format';

/** Version of the PREFIX_TUNING_PLUS layout (bumped on any incompatible change). */
export const PTPLUS_FORMAT_VERSION = 1;

/** adapter_config.json and tensors of an attached adapter whose method has this format (its definition writes them). */
export function ptplusExportFiles(attached: AttachedAdapter, baseModelPath: string): ExportFiles {
  const method = attached.adapter.method;
  const ptplus = getMethod(method).exports.ptplus;
  if (!ptplus) throw new ApiError('unsupported', `method ${method} has no PT+ format`, { field: 'format' });
  const { config, tensors } = ptplus.write(attached.adapter);
  return { config: { ...config, peft_type: ptplus.peftType, base_model_name_or_path: baseModelPath, format_version: PTPLUS_FORMAT_VERSION }, tensors };
}

export function readPtplusFolder(dir: string): ReadBack {
  const configPath = join(dir, PEFT_CONFIG_FILE);
  const weightsPath = join(dir, PEFT_WEIGHTS_FILE);
  const c = readJsonStrict(configPath);
  const writers = allMethods().flatMap((m) => (m.exports.ptplus ? [{ method: m.name, ptplus: m.exports.ptplus }] : []));
  const writer = writers.find((w) => w.ptplus.peftType === c.peft_type);
  if (!writer) {
    const expected = writers.map((w) => JSON.stringify(w.ptplus.peftType)).join(' or ');
    throw new ApiError('bad_file', `peft_type is ${JSON.stringify(c.peft_type)}, expected ${expected}`, { file: configPath, field: 'peft_type' });
  }
  const reader = SafetensorsReader.open(weightsPath);
  const format = reader.metadata.format;
  reader.close();
  if (format !== 'pt') throw new ApiError('bad_file', `safetensors metadata format is ${JSON.stringify(format)}, expected "pt"`, { file: weightsPath });
  return { method: writer.method, options: writer.ptplus.readOptions(c, configPath), state: readStateDictFile(weightsPath) };
}
