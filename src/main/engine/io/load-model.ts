// One entry point for every model format: a Hugging Face folder, a llama2.c .bin checkpoint with its
// tokenizer (tok512.bin / tokenizer.bin) beside it, or a GGUF file.
import { closeSync, existsSync, readSync, statSync } from 'node:fs';
import { openRegularFile } from './bounded-read';
import { dirname, join } from 'node:path';
import { ApiError } from '@shared/errors';
import type { CausalLM, ModelConfig } from '../models/causal-lm';
import { LlamaModel } from '../models/llama';
import { inspectHfFolder, loadHfFolder, loadHfTokenizer, readHfConfig } from './hf-folder';
import { inspectGguf, loadGguf } from './gguf/gguf-model';
import { ggufChatTemplate, hasGgufTokenizer, tokenizerFromGguf } from './gguf/gguf-tokenizer';
import { readLlama2cConfig, readLlama2cWeights } from './llama2c';
import { Llama2cTokenizer } from './llama2c-tokenizer';
import { checkMemory, type GenerationDefaults, type LoadOptions } from './model-files';
import type { TextTokenizer } from './tokenizer';

export type { GenerationDefaults, LoadOptions } from './model-files';

export type ModelFormat = 'hf' | 'llama2c' | 'gguf';

export interface LoadedModel {
  path: string;
  format: ModelFormat;
  model: CausalLM;
  /** null when the folder has no tokenizer.json, or the GGUF file no tokenizer.ggml.model (ids still work). */
  tokenizer: TextTokenizer | null;
  generation: GenerationDefaults;
  dispose(): void;
}

/** Tokenizer files looked for beside a llama2.c checkpoint, in order. */
const LLAMA2C_TOKENIZERS = ['tok512.bin', 'tokenizer.bin'];

export function detectFormat(path: string): ModelFormat {
  if (!existsSync(path)) throw new ApiError('not_found', 'model path does not exist', { file: path });
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'config.json'))) return 'hf';
    const bins = LLAMA2C_TOKENIZERS.map((t) => join(path, t)).filter(existsSync);
    throw new ApiError('not_found', bins.length ? 'config.json is missing (for a llama2.c model pass the .bin file itself)' : 'config.json is missing', {
      file: join(path, 'config.json'),
    });
  }
  if (path.toLowerCase().endsWith('.gguf') || hasGgufMagic(path)) return 'gguf';
  if (path.endsWith('.bin')) return 'llama2c';
  throw new ApiError('unsupported', 'expected a Hugging Face model folder, a GGUF file or a llama2.c .bin checkpoint', { file: path });
}

/** A GGUF file starts with the bytes "GGUF" whatever it is called (Ollama's blobs have no extension). */
function hasGgufMagic(path: string): boolean {
  const head = Buffer.alloc(4);
  let fd: number | null = null;
  try {
    // Regular files only, opened non-blocking: a FIFO named like a checkpoint must not hang the sniff.
    fd = openRegularFile(path).fd;
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString('latin1') === 'GGUF';
  } catch {
    return false; // unreadable: the format's own reader says why
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

const GGUF_NEEDS_ASYNC = 'this operation cannot read GGUF files yet (model inspect, logits, generate and data inspect can)';

/** The normalised config without loading weights (validates the files). HF folders and llama2.c only: GGUF headers are read asynchronously (readModelHeader). */
export function readModelConfig(path: string): { format: ModelFormat; config: ModelConfig } {
  const format = detectFormat(path);
  if (format === 'gguf') throw new ApiError('unsupported', GGUF_NEEDS_ASYNC, { file: path });
  return { format, config: format === 'hf' ? inspectHfFolder(path).config : readLlama2cConfig(path) };
}

export interface ModelHeader {
  format: ModelFormat;
  config: ModelConfig;
  /** GGUF: tensor count per GGML type. */
  quantization?: Record<string, number>;
  /** GGUF: the GGML type holding most values (config.sourceDtype names only float types). */
  fileType?: string;
  /** GGUF: whether the file carries a tokenizer (tokenizer.ggml.model) and a chat template (tokenizer.chat_template). */
  hasTokenizer?: boolean;
  chatTemplate?: boolean;
}

/** Like readModelConfig, for every format. */
export async function readModelHeader(path: string): Promise<ModelHeader> {
  if (detectFormat(path) !== 'gguf') return readModelConfig(path);
  const { config, quantization, mainType, file } = await inspectGguf(path);
  return { format: 'gguf', config, quantization, fileType: mainType, hasTokenizer: hasGgufTokenizer(file), chatTemplate: ggufChatTemplate(file) !== null };
}

export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const format = detectFormat(path);
  if (format === 'hf') {
    const { model, tokenizer, generation } = loadHfFolder(path, opts);
    return { path, format, model, tokenizer, generation, dispose: () => model.dispose() };
  }
  if (format === 'gguf') {
    // The tokenizer first: a bad one is refused before any weight is read.
    const { tokenizer } = await ggufTokenizerAndConfig(path);
    const { model, generation } = await loadGguf(path, opts);
    return { path, format, model, tokenizer, generation, dispose: () => model.dispose() };
  }
  const config = readLlama2cConfig(path);
  checkMemory(config, path, opts.maxBytes);
  const tokenizerPath = LLAMA2C_TOKENIZERS.map((t) => join(dirname(path), t)).find(existsSync);
  const tokenizer = tokenizerPath ? Llama2cTokenizer.read(tokenizerPath, config.vocabSize) : null;
  const { weights } = readLlama2cWeights(path);
  const model = new LlamaModel(config, weights);
  const generation: GenerationDefaults = { bosTokenId: 1, eosTokenIds: config.eosTokenIds, padTokenId: null };
  return { path, format, model, tokenizer, generation, dispose: () => model.dispose() };
}

/** A GGUF file's tokenizer with the model's config (one header read), its ids checked against the vocabulary. */
async function ggufTokenizerAndConfig(path: string): Promise<{ tokenizer: TextTokenizer | null; config: ModelConfig }> {
  const { config, file } = await inspectGguf(path);
  const tokenizer = tokenizerFromGguf(file);
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    throw new ApiError('bad_file', `tokenizer has ids up to ${tokenizer.vocabSize - 1} but the model's vocabulary has ${config.vocabSize} rows`, {
      file: path,
      field: 'tokenizer.ggml.tokens',
    });
  }
  return { tokenizer, config };
}

/** Only the tokenizer of a model (no weights are read): dataset statistics need nothing more. */
export async function loadTokenizer(path: string): Promise<{ tokenizer: TextTokenizer | null; config: ModelConfig }> {
  const format = detectFormat(path);
  if (format === 'gguf') return ggufTokenizerAndConfig(path);
  if (format === 'hf') {
    const { config } = readHfConfig(path);
    return { tokenizer: loadHfTokenizer(path, config), config };
  }
  const config = readLlama2cConfig(path);
  const tokenizerPath = LLAMA2C_TOKENIZERS.map((t) => join(dirname(path), t)).find(existsSync);
  return { tokenizer: tokenizerPath ? Llama2cTokenizer.read(tokenizerPath, config.vocabSize) : null, config };
}
