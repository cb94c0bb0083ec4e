// Loads a Hugging Face model folder: config.json, model.safetensors (or a sharded index), tokenizer.json,
// tokenizer_config.json and generation_config.json. Everything is validated (names, shapes, memory)
// before any tensor is allocated; errors name the file and field.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { CausalLM, ModelConfig } from '../models/causal-lm';
import { architectureFor, SUPPORTED_MODEL_TYPES, type ArchitectureSpec } from '../models/architectures';
import { FILE_CAPS, readBoundedText } from './bounded-read';
import { SafetensorsReader } from './safetensors';
import { HfTokenizer, maxTokenId, pickChatTemplate, type TextTokenizer } from './tokenizer';
import { checkTokenizerRegexes } from './tokenizer-regex';
import { checkLayerCount, checkMemory, type GenerationDefaults, type LoadOptions } from './model-files';

/** Longest error message passed on from the config parsers. */
const MAX_MESSAGE_CHARS = 300;

export interface HfFolderInfo {
  config: ModelConfig;
  spec: ArchitectureSpec;
  /** Where each expected weight is stored: file and the name inside it. */
  locations: Map<string, { file: string; name: string }>;
}

/** A JSON object file of the folder, read through the bounded reader (regular files under `maxBytes` only). */
export function readJson(path: string, required: true, maxBytes?: number): Record<string, unknown>;
export function readJson(path: string, required: false, maxBytes?: number): Record<string, unknown> | null;
export function readJson(path: string, required: boolean, maxBytes: number = FILE_CAPS.json): Record<string, unknown> | null {
  if (!existsSync(path)) {
    if (!required) return null;
    throw new ApiError('not_found', `${path.split(/[\\/]/).pop()} is missing`, { file: path });
  }
  const text = readBoundedText(path, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError('bad_file', `not valid JSON: ${(err as Error).message}`, { file: path });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ApiError('bad_file', 'expected a JSON object', { file: path });
  return value as Record<string, unknown>;
}

/** Parses config.json into a normalised config (no weights are touched). */
export function readHfConfig(dir: string): { config: ModelConfig; spec: ArchitectureSpec; configPath: string } {
  const configPath = join(dir, 'config.json');
  const raw = readJson(configPath, true);
  const modelType = raw.model_type;
  const spec = typeof modelType === 'string' ? architectureFor(modelType) : undefined;
  if (!spec) {
    const shown = JSON.stringify(modelType)?.slice(0, 80);
    const what = modelType === undefined ? 'config.json has no model_type' : `model_type ${shown} is not supported`;
    throw new ApiError('unsupported', `${what} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`, {
      file: configPath,
      field: 'model_type',
    });
  }
  for (const field of ['num_hidden_layers', 'n_layer']) checkLayerCount(raw[field], field, configPath);
  try {
    return { config: spec.parseConfig(raw, configPath), spec, configPath };
  } catch (err) {
    // Parsers echo the offending value; a hostile one (a 5,000-character "hidden_act") must not swamp the message.
    if (err instanceof ApiError && err.message.length > MAX_MESSAGE_CHARS) {
      throw new ApiError(err.code, `${err.message.slice(0, MAX_MESSAGE_CHARS)}…`, { file: err.file, line: err.line, field: err.field });
    }
    throw err;
  }
}

/** Parses config.json and the safetensors headers and checks every weight's presence and shape. */
export function inspectHfFolder(dir: string): HfFolderInfo {
  const { config, spec } = readHfConfig(dir);
  return { config, spec, locations: locateWeights(dir, spec, config) };
}

function locateWeights(dir: string, spec: ArchitectureSpec, config: ModelConfig): HfFolderInfo['locations'] {
  const readers = openWeightFiles(dir);
  try {
    const locations = new Map<string, { file: string; name: string }>();
    for (const [name, shape] of spec.weightShapes(config)) {
      const found = findTensor(readers, name, spec.optionalPrefix);
      if (!found) {
        throw new ApiError('bad_file', `missing tensor ${name} (expected shape [${shape.join(', ')}])`, { file: readers.describe, field: name });
      }
      const info = found.reader.tensors.get(found.name)!;
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new ApiError('bad_file', `tensor ${name} has shape [${info.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`, {
          file: found.reader.path,
          field: name,
        });
      }
      if (info.dtype === 'I32' || info.dtype === 'I64') {
        throw new ApiError('bad_file', `tensor ${name} has integer dtype ${info.dtype}; expected F32, F16 or BF16`, { file: found.reader.path, field: name });
      }
      locations.set(name, { file: found.reader.path, name: found.name });
    }
    const first = locations.values().next().value;
    if (first) config.sourceDtype = readers.byPath.get(first.file)!.tensors.get(first.name)!.dtype as ModelConfig['sourceDtype'];
    return locations;
  } finally {
    readers.close();
  }
}

export interface HfFolderModel {
  model: CausalLM;
  tokenizer: TextTokenizer | null;
  generation: GenerationDefaults;
}

export function loadHfFolder(dir: string, opts: LoadOptions = {}): HfFolderModel {
  const { config, spec, configPath } = readHfConfig(dir);
  checkMemory(config, configPath, opts.maxBytes);
  const locations = locateWeights(dir, spec, config);
  const tokenizer = loadHfTokenizer(dir, config);
  const generation = readGenerationConfig(dir, config);
  const weights = new Map<string, tf.Tensor>();
  const readers = new Map<string, SafetensorsReader>();
  try {
    for (const [name, where] of locations) {
      let reader = readers.get(where.file);
      if (!reader) readers.set(where.file, (reader = SafetensorsReader.open(where.file)));
      const tensor = reader.read(where.name);
      weights.set(name, tf.tensor(tensor.data as Float32Array, tensor.shape, 'float32'));
    }
  } catch (err) {
    for (const w of weights.values()) w.dispose();
    throw err;
  } finally {
    for (const reader of readers.values()) reader.close();
  }
  return { model: spec.create(config, weights), tokenizer, generation };
}

// ---- weight files ----

interface WeightFiles {
  byPath: Map<string, SafetensorsReader>;
  /** tensor name → reader, from the shard index (absent for a single file). */
  index: Map<string, SafetensorsReader> | null;
  /** The file to name in "missing tensor" errors. */
  describe: string;
  close(): void;
}

function openWeightFiles(dir: string): WeightFiles {
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  const byPath = new Map<string, SafetensorsReader>();
  const close = (): void => byPath.forEach((r) => r.close());
  try {
    if (existsSync(single)) {
      byPath.set(single, SafetensorsReader.open(single));
      return { byPath, index: null, describe: single, close };
    }
    if (existsSync(indexPath)) {
      const weightMap = readJson(indexPath, true).weight_map;
      if (!weightMap || typeof weightMap !== 'object') throw new ApiError('bad_file', 'weight_map is missing', { file: indexPath, field: 'weight_map' });
      const index = new Map<string, SafetensorsReader>();
      for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
        if (typeof shard !== 'string' || shard.includes('..')) throw new ApiError('bad_file', `bad shard name for ${tensor}`, { file: indexPath, field: `weight_map.${tensor}` });
        const shardPath = join(dir, shard);
        let reader = byPath.get(shardPath);
        if (!reader) byPath.set(shardPath, (reader = SafetensorsReader.open(shardPath)));
        index.set(tensor, reader);
      }
      return { byPath, index, describe: indexPath, close };
    }
  } catch (err) {
    close();
    throw err;
  }
  const hasTorch = existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'));
  throw new ApiError(
    'not_found',
    hasTorch ? 'only safetensors weights are supported; this folder has pytorch_model.bin (convert it to model.safetensors)' : 'model.safetensors is missing',
    { file: single },
  );
}

function findTensor(files: WeightFiles, name: string, optionalPrefix?: string): { reader: SafetensorsReader; name: string } | null {
  const candidates = optionalPrefix && name.startsWith(optionalPrefix) ? [name, name.slice(optionalPrefix.length)] : [name];
  for (const candidate of candidates) {
    if (files.index) {
      const reader = files.index.get(candidate);
      if (reader?.tensors.has(candidate)) return { reader, name: candidate };
    } else {
      for (const reader of files.byPath.values()) if (reader.tensors.has(candidate)) return { reader, name: candidate };
    }
  }
  return null;
}

// ---- tokenizer and generation defaults ----

/** Whether the folder carries a chat template (chat_template.jinja, or chat_template in tokenizer_config.json), as loadHfTokenizer reads it. */
export function hasHfChatTemplate(dir: string): boolean {
  if (existsSync(join(dir, 'chat_template.jinja'))) return true;
  try {
    return pickChatTemplate(readJson(join(dir, 'tokenizer_config.json'), false)?.chat_template) !== null;
  } catch {
    return false; // an unreadable tokenizer_config.json fails where the tokenizer is loaded, with its reason
  }
}

/** The folder's tokenizer (null without tokenizer.json), checked against the model's vocabulary. */
export function loadHfTokenizer(dir: string, config: ModelConfig): TextTokenizer | null {
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizerJson = readJson(tokenizerPath, false, FILE_CAPS.tokenizerJson);
  if (!tokenizerJson) return null;
  const tokenizerConfig = readJson(join(dir, 'tokenizer_config.json'), false) ?? {};
  const templatePath = join(dir, 'chat_template.jinja');
  const template = existsSync(templatePath) ? readBoundedText(templatePath, FILE_CAPS.template) : null;
  let tokenizer: HfTokenizer;
  try {
    // Ids past the model's vocabulary are refused before the library builds tables as long as the largest id.
    const maxId = maxTokenId(tokenizerJson);
    if (maxId >= config.vocabSize) {
      throw new ApiError('bad_file', `tokenizer has ids up to ${maxId} but the model's vocab_size is ${config.vocabSize}`, { file: tokenizerPath, field: 'model.vocab' });
    }
    // Patterns from the file run on every text (and on added tokens while the library builds): one that
    // backtracks exponentially would hang, so they are checked first.
    checkTokenizerRegexes(tokenizerJson, tokenizerPath);
    tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig, template);
    // Some defects only show when text goes through the pipeline: find them now, not mid-training.
    tokenizer.decode(tokenizer.encode('Hello world 123'));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The library's TypeErrors ("added_tokens is not iterable") mean a field of the wrong type or shape; its
    // own messages may print a field's object as "[object Object]".
    const why =
      err instanceof TypeError || err instanceof RangeError || !(err instanceof Error)
        ? 'a field has the wrong type or shape'
        : err.message.replaceAll('[object Object]', 'an object');
    throw new ApiError('bad_file', `cannot build the tokenizer: ${why.slice(0, MAX_MESSAGE_CHARS)}`, { file: tokenizerPath });
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ApiError('bad_file', `tokenizer has ids up to ${tokenizer.vocabSize - 1} but the model's vocab_size is ${config.vocabSize}`, {
      file: tokenizerPath,
      field: 'model.vocab',
    });
  }
  return tokenizer;
}

function readGenerationConfig(dir: string, config: ModelConfig): GenerationDefaults {
  const raw = readJson(join(dir, 'generation_config.json'), false) ?? {};
  const ids = (value: unknown): number[] | undefined =>
    value === undefined || value === null ? undefined : (Array.isArray(value) ? value : [value]).filter((v): v is number => Number.isInteger(v));
  const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  return {
    bosTokenId: num(raw.bos_token_id) ?? config.bosTokenId,
    eosTokenIds: ids(raw.eos_token_id) ?? config.eosTokenIds,
    padTokenId: num(raw.pad_token_id) ?? config.padTokenId,
    doSample: typeof raw.do_sample === 'boolean' ? raw.do_sample : undefined,
    temperature: num(raw.temperature),
    topK: num(raw.top_k),
    topP: num(raw.top_p),
    repetitionPenalty: num(raw.repetition_penalty),
    maxNewTokens: num(raw.max_new_tokens),
  };
}
