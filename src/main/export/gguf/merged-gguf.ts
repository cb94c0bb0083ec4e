// The merged GGUF export (`export ID --format gguf --quant f16|q8_0`), its own steps inside exportAdapter
// (export-adapter.ts), in the export's hidden temp folder: the model with the adapter merged in (LoRA: W + s·B·A;
// full fine-tuning: the trained weights) written as one complete GGUF, model.gguf, that llama.cpp, Ollama and
// LM Studio run without the base. Tensors as llama.cpp's converter would write them (gguf-tensors.ts); metadata
// copied from the base GGUF with its types (architecture keys, tokenizer.ggml.*, tokenizer.chat_template), with
// general.file_type set to the new type. Then: read back by our loader (must equal the in-memory model with the
// same rounded weights), an Ollama Modelfile (FROM ./model.gguf), and the check by llama.cpp itself against the
// in-app model (unrounded), within MERGED_GGUF_THRESHOLDS.
// A Hugging Face folder base: the same steps, with metadata and tokenizer made from its config.json and tokenizer
// files as llama.cpp's converter writes them (hf-base-gguf.ts, hf-gguf-metadata.ts). A llama2.c base is refused.
import { closeSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { gguf, GGUFValueType } from '@huggingface/gguf';
import { ApiError } from '@shared/errors';
import { openRegularFile } from '../../engine/io/bounded-read';
import { dequantize } from '../../engine/io/gguf/dequantize';
import { descriptorFetch } from '../../engine/io/gguf/gguf-file';
import { toHfLayout } from '../../engine/io/gguf/gguf-layout';
import { inspectGguf, type GgufModelInfo } from '../../engine/io/gguf/gguf-model';
import { readGgufStringArrays } from '../../engine/io/gguf/gguf-raw-strings';
import { GgufTensorReader } from '../../engine/io/gguf/read-tensor';
import type { LoadedModel } from '../../engine/io/load-model';
import { getMethod } from '../../engine/methods/registry';
import { writeFileAtomic } from '../../platform/atomic-write';
import { loadBaseModel, logitsOf, type AttachedAdapter } from '../engine-session';
import { GGUF_CHECK_THRESHOLDS, llamaCppCheck, LlamaCppUnavailable, type LlamaCppCheck, type LlamaCppCheckThresholds } from '../llama-cpp-check';
import type { ExportSource } from '../source';
import { encodeGgufTensor, planGgufTensor, type GgufTensorMap } from './gguf-tensors';
import { writeHfGguf } from './hf-base-gguf';
import { writeGguf, type GgufMetadataEntry, type GgufMetadataType, type GgufWriteTensor, type GgufWriteTensorType } from './gguf-writer';
import { EXPORT_README, MODELFILE, modelfileChat, modelfileText, ollamaCommand } from './ollama-modelfile';
import type { QuantType } from './quantize';

export const MERGED_GGUF_FILE = 'model.gguf';

/** llama.cpp's LlamaFileType for general.file_type (gguf-py constants.py). */
const FILE_TYPE: Record<QuantType, number> = { f16: 1, q8_0: 7 };
/** GGML_QUANT_VERSION, which the converter writes as general.quantization_version. */
const QUANTIZATION_VERSION = 2;

const SCALAR_NAMES: Partial<Record<GGUFValueType, GgufMetadataType>> = {
  [GGUFValueType.UINT8]: 'u8',
  [GGUFValueType.INT8]: 'i8',
  [GGUFValueType.UINT16]: 'u16',
  [GGUFValueType.INT16]: 'i16',
  [GGUFValueType.UINT32]: 'u32',
  [GGUFValueType.INT32]: 'i32',
  [GGUFValueType.FLOAT32]: 'f32',
  [GGUFValueType.BOOL]: 'bool',
  [GGUFValueType.STRING]: 'string',
  [GGUFValueType.UINT64]: 'u64',
  [GGUFValueType.INT64]: 'i64',
  [GGUFValueType.FLOAT64]: 'f64',
};

/** The base file's metadata with each value's GGUF type (readGgufFile keeps values only). */
export async function readTypedMetadata(path: string): Promise<GgufMetadataEntry[]> {
  const { fd, size } = openRegularFile(path);
  let typed: Record<string, { value: unknown; type: GGUFValueType; subType?: GGUFValueType }>;
  try {
    typed = (await gguf(`http://gguf.invalid/model.gguf`, { fetch: descriptorFetch(fd, size, path), typedMetadata: true })).typedMetadata as typeof typed;
  } finally {
    closeSync(fd);
  }
  const entries: GgufMetadataEntry[] = [];
  for (const [key, { value, type, subType }] of Object.entries(typed)) {
    if (key === 'version' || key === 'tensor_count' || key === 'kv_count') continue;
    const scalar = SCALAR_NAMES[type === GGUFValueType.ARRAY ? subType! : type];
    if (!scalar) throw new ApiError('unsupported', `GGUF metadata ${key} is an array of arrays, which the GGUF export cannot copy`, { file: path, field: key });
    entries.push({ key, type: type === GGUFValueType.ARRAY ? (`${scalar}[]` as GgufMetadataType) : scalar, value: value as GgufMetadataEntry['value'] });
  }
  // The parser drops a leading byte-order mark from every string (Gemma 3 has both "//" and "\uFEFF//"): string arrays re-read byte-exactly.
  const exact = readGgufStringArrays(
    path,
    entries.filter((e) => e.type === 'string[]').map((e) => e.key),
  );
  return entries.map((e) => (exact.has(e.key) ? { ...e, value: exact.get(e.key)! } : e));
}

/**
 * The merged file's metadata: the base's, less what no longer holds (its alignment, split and imatrix keys),
 * with general.file_type the new type and general.quantization_version as the converter writes it.
 */
export function mergedMetadata(base: GgufMetadataEntry[], quant: QuantType, name: string): GgufMetadataEntry[] {
  const dropped = (key: string): boolean =>
    key === 'general.alignment' || key === 'general.file_type' || key === 'general.quantization_version' || key.startsWith('split.') || key.startsWith('quantize.');
  const kept = base.filter((e) => !dropped(e.key));
  const at = kept.findIndex((e) => e.key === 'general.name');
  const named: GgufMetadataEntry = { key: 'general.name', type: 'string', value: name };
  if (at >= 0) kept[at] = named;
  else kept.push(named);
  return [...kept, { key: 'general.file_type', type: 'u32', value: FILE_TYPE[quant] }, { key: 'general.quantization_version', type: 'u32', value: QUANTIZATION_VERSION }];
}

/** The merged model's HF weights: the adapter's merged overrides over the loaded model's own. */
function mergedWeightsOf(base: LoadedModel, inApp: AttachedAdapter): Map<string, tf.Tensor> {
  const def = getMethod(inApp.adapter.method).exports.gguf;
  if (!def) throw new ApiError('unsupported', `method ${inApp.adapter.method} cannot be merged into the weights`, { field: 'format' });
  return def.mergedWeights(inApp.adapter);
}

/**
 * Writes model.gguf into `path`: every mapped weight encoded as the converter would, every other tensor of the
 * base (Phi-3's rope factors) copied as it is. Returns, per mapped weight, its bytes as written.
 */
async function writeMergedFile(path: string, info: GgufModelInfo, base: LoadedModel, overrides: Map<string, tf.Tensor>, quant: QuantType, metadata: GgufMetadataEntry[]) {
  const map: GgufTensorMap = { architecture: String(info.file.metadata['general.architecture']), sources: info.sources, shapes: info.shapes };
  const hfNameOf = new Map([...info.sources].filter(([name]) => info.shapes.has(name)).map(([name, s]) => [s.tensor, name]));
  const written = new Map<string, Uint8Array>();
  const reader = GgufTensorReader.open(info.file);
  try {
    const tensors: GgufWriteTensor[] = info.file.tensors.map((t) => {
      const hf = hfNameOf.get(t.name);
      if (hf === undefined) {
        // Not a weight of the model (rope factors): copied, or as F32 when the writer cannot write its type.
        const copy = t.type === 'F32' || t.type === 'F16' || t.type === 'Q8_0';
        return {
          name: t.name,
          type: copy ? (t.type as GgufWriteTensorType) : 'F32',
          shape: t.shape,
          data: () => (copy ? reader.readBytes(t.name) : f32Bytes(reader.read(t.name).data)),
        };
      }
      const plan = planGgufTensor(map, hf, quant);
      return {
        ...plan,
        data: () => {
          const weight = overrides.get(hf) ?? base.model.weights.get(hf);
          const values = weight ? Float32Array.from(weight.dataSync() as Float32Array) : undefined;
          const { data } = encodeGgufTensor(map, hf, values, quant);
          written.set(hf, data);
          return data;
        },
      };
    });
    await writeGguf(path, { metadata, tensors });
  } finally {
    reader.close();
  }
  return { map, written };
}

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** The model our loader would make from `written`, built in memory (the reload's reference). */
function modelFromBytes(info: GgufModelInfo, map: GgufTensorMap, written: Map<string, Uint8Array>, quant: QuantType) {
  const weights = new Map<string, tf.Tensor>();
  for (const [name, shape] of info.shapes) {
    const plan = planGgufTensor(map, name, quant);
    const count = shape.reduce((a, b) => a * b, 1);
    const values = dequantize(plan.type, written.get(name)!, count, { tensor: plan.name });
    weights.set(name, tf.tensor(toHfLayout(info.sources.get(name)!, values, plan.shape), shape, 'float32'));
  }
  return info.create(weights);
}

/**
 * llama.cpp on the merged file against the in-app model, by the file's type (docs/export.md, measured on 24
 * positions with random LoRAs and full fine-tuning): F16 as 8-bit files (tiny fixtures ≤ 7.7e-3, SmolLM2-135M Q4_1
 * base 7.2e-2, top-1 ≥ 96%); Q8_0 as low-bit ones (tiny ≤ 0.25, SmolLM2 2.27 with top-1 92%): llama.cpp rounds
 * activations to 8 bits for every Q8_0 product, which moves the far tail of the vocabulary's log-probabilities.
 */
export const MERGED_GGUF_THRESHOLDS: Record<QuantType, LlamaCppCheckThresholds> = { f16: GGUF_CHECK_THRESHOLDS['8-bit'], q8_0: GGUF_CHECK_THRESHOLDS['low-bit'] };

/** The llama.cpp check as stored in parity.json and the export result; `skipped` when its runtime cannot load here. */
export type MergedLlamaCppParity = LlamaCppCheck | { ok: true; skipped: string };

export interface MergedGgufExportResult {
  /** Logits of model.gguf read back by our loader. */
  actual: Float32Array[];
  /** Logits of the same rounded weights built in memory (what the reload must equal). */
  reference: Float32Array[];
  /** Models loaded here, for the caller to dispose. */
  loaded: LoadedModel[];
  llamaCpp: MergedLlamaCppParity;
  ollamaCommand: string;
}

export async function writeMergedGgufExport(opts: {
  dir: string;
  outDir: string;
  base: LoadedModel;
  source: ExportSource;
  inApp: AttachedAdapter;
  inputs: number[][];
  /** The in-app model's logits on `inputs`. */
  expected: Float32Array[];
  quant: QuantType;
}): Promise<MergedGgufExportResult> {
  const { dir, base, source, inApp, inputs, expected, quant } = opts;
  if (base.format !== 'gguf' && base.format !== 'hf') {
    throw new ApiError('unsupported', `--format gguf needs a GGUF or Hugging Face folder base model, and ${base.path} is neither: export with --format merged`, {
      field: 'format',
      file: base.path,
    });
  }
  const name = `PrefixLab ${source.method} ${source.id} merged (${quant})`;
  const path = join(dir, MERGED_GGUF_FILE);
  const overrides = mergedWeightsOf(base, inApp);
  const loaded: LoadedModel[] = [];
  let info: GgufModelInfo;
  let reference: Float32Array[];
  try {
    let map: GgufTensorMap;
    let written: Map<string, Uint8Array>;
    if (base.format === 'hf') {
      // A Hugging Face folder: metadata and tokenizer as llama.cpp's converter writes them (hf-gguf-metadata.ts).
      const weight = (hf: string) => (overrides.get(hf) ?? base.model.weights.get(hf))?.dataSync() as Float32Array | undefined;
      ({ map, written } = await writeHfGguf({ path, folder: base.path, config: base.model.config, weight, type: quant, name }));
      info = await inspectGguf(path);
    } else {
      info = await inspectGguf(base.path);
      const metadata = mergedMetadata(await readTypedMetadata(base.path), quant, name);
      ({ map, written } = await writeMergedFile(path, info, base, overrides, quant, metadata));
    }
    const inMemory = modelFromBytes(info, map, written, quant);
    try {
      reference = await logitsOf({ ...base, model: inMemory }, inputs);
    } finally {
      inMemory.dispose();
    }
  } finally {
    for (const t of overrides.values()) t.dispose();
  }
  const reloaded = await loadBaseModel(path);
  loaded.push(reloaded);
  const actual = await logitsOf(reloaded, inputs);

  const chat = modelfileChat(info.file);
  await writeFileAtomic(
    join(dir, MODELFILE),
    modelfileText({ comment: `PrefixLab export of ${source.method} ${source.id}, merged into ${base.path} (${quant})`, from: `./${MERGED_GGUF_FILE}`, ...chat }),
  );
  const command = ollamaCommand(`prefixlab-${source.id}`, join(opts.outDir, MODELFILE));
  const readme = [
    `${MERGED_GGUF_FILE}: the ${source.method} ${source.kind} ${source.id} merged into ${base.path}, as one GGUF model (${quant.toUpperCase()} weights;`,
    'exported by PrefixLab and checked by llama.cpp itself, see parity.json). It needs no base model.',
    '',
    `llama.cpp:  llama-cli -m ${MERGED_GGUF_FILE}`,
    `Ollama:     ${command}`,
    'LM Studio and other llama.cpp front ends: load model.gguf.',
    '',
  ].join('\n');
  await writeFileAtomic(join(dir, EXPORT_README), readme);

  let llamaCpp: MergedLlamaCppParity;
  try {
    llamaCpp = await llamaCppCheck({ model: path, inputs, ourLogits: expected, vocabSize: base.model.config.vocabSize, thresholds: MERGED_GGUF_THRESHOLDS[quant] });
  } catch (err) {
    if (!(err instanceof LlamaCppUnavailable)) {
      throw new ApiError(
        'parity_failed',
        `export check failed: llama.cpp could not load the merged model.gguf: ${String((err as Error).message ?? err).split('\n')[0]}; nothing was written`,
        {
          field: 'format',
        },
      );
    }
    llamaCpp = { ok: true, skipped: err.message };
  }
  if (!llamaCpp.ok) {
    const c = llamaCpp as LlamaCppCheck;
    const t = c.thresholds;
    throw new ApiError(
      'parity_failed',
      `export check failed: llama.cpp running the merged model.gguf agrees with the in-app model on the top token at ${(100 * c.top1Agreement).toFixed(0)}% of ${c.positions} positions (at least ${100 * t.minTop1Agreement}% needed) with max |Δ log p| ${c.maxAbsLogProbDiff.toFixed(3)} (at most ${t.maxAbsLogProbDiff}); nothing was written`,
      { field: 'format' },
    );
  }
  return { actual, reference: reference!, loaded, llamaCpp, ollamaCommand: command };
}
