// Model operations for the CLI and the app (`prefixlab model inspect`, `logits`, `generate`): load a model
// by path (HF folder, llama2.c .bin or GGUF file), keep it cached per process, and return plain data only.
import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ModelCard } from '@shared/contract/calls/models';
import { ApiError } from '@shared/errors';
import { activeBackend, initBackend, type BackendName } from '../engine/backend';
import { formatChat, type ChatMessage } from '../engine/chat';
import { generate } from '../engine/generate';
import { loadModel, readModelHeader, type LoadedModel, type ModelFormat } from '../engine/io/load-model';
import { weightBytes } from '../engine/io/model-files';
import { hasHfChatTemplate } from '../engine/io/hf-folder';
import type { ModelConfig } from '../engine/models/causal-lm';
import type { ModelHooks } from '../engine/models/hooks';
import { loadBaseModel, type AttachedAdapter } from '../export/engine-session';
import { MANIFEST_FILE, entryDir } from '../registry/layout';
import { attachAdapter, checkAdapterBase, resolveAdapter, resolveRegistryAdapter, type ResolvedAdapter } from './adapter-session';

export type BackendChoice = BackendName | 'auto';

export interface ModelInspection {
  format: ModelFormat;
  architecture: ModelConfig['architecture'];
  parameters: number;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  /** dtype of the weights on disk (they are computed in float32); for GGUF the GGML type holding most values, e.g. Q4_1. */
  dtype: string;
  tiedEmbeddings: boolean;
  /** Trained context length in tokens. */
  context: number;
  memoryBytesFloat32: number;
  /** GGUF only: tensor count per GGML type, e.g. { Q4_1: 210, F32: 61, Q8_0: 1 }. */
  quantization?: Record<string, number>;
  /** Whether the model carries a chat template (tokenizer_config.json / chat_template.jinja, or the GGUF's tokenizer.chat_template). */
  chatTemplate: boolean;
  /** GGUF only: whether the file carries a tokenizer (tokenizer.ggml.*). */
  hasTokenizer?: boolean;
}

/**
 * The architecture card of a model on disk (config and weight headers only). `inspect` reads the files: the
 * handlers pass the model worker's, so a hostile folder never runs on the app's event loop.
 */
export async function readModelCard(path: string, inspect: (path: string) => Promise<ModelInspection> = inspectModel): Promise<{ format: ModelFormat; card: ModelCard }> {
  const info = await inspect(path);
  return {
    format: info.format,
    card: {
      architecture: info.architecture,
      parameters: info.parameters,
      layers: info.layers,
      hidden: info.hidden,
      heads: info.heads,
      kvHeads: info.kvHeads,
      headDim: info.headDim,
      vocabSize: info.vocab,
      contextLength: info.context,
      dtype: info.dtype,
      memoryFloat32Bytes: info.memoryBytesFloat32,
      tiedEmbeddings: info.tiedEmbeddings,
      hasTokenizer: info.hasTokenizer ?? hasTokenizer(path, info.format),
      hasChatTemplate: info.chatTemplate,
    },
  };
}

function hasTokenizer(path: string, format: ModelFormat): boolean {
  if (format === 'hf') return existsSync(join(path, 'tokenizer.json'));
  if (format === 'gguf') return false; // inspectModel reports it (tokenizer.ggml.* metadata)
  return ['tok512.bin', 'tokenizer.bin'].some((name) => existsSync(join(dirname(path), name)));
}

/** The name an imported model gets unless one is given: its folder's or file's name. */
export function defaultModelName(path: string): string {
  const isFile = existsSync(path) && statSync(path).isFile();
  return isFile ? basename(path).replace(/\.(bin|gguf)$/i, '') : basename(path);
}

/** Reads config and weight headers (no weights are loaded) and validates every tensor's presence and shape. */
export async function inspectModel(path: string): Promise<ModelInspection> {
  const { format, config, quantization, fileType, hasTokenizer: ggufTokenizer, chatTemplate } = await readModelHeader(resolve(path));
  return {
    format,
    architecture: config.architecture,
    parameters: config.parameters,
    layers: config.layers,
    hidden: config.hidden,
    heads: config.heads,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    vocab: config.vocabSize,
    dtype: fileType ?? config.sourceDtype,
    tiedEmbeddings: config.tiedEmbeddings,
    context: config.maxPositions,
    memoryBytesFloat32: weightBytes(config),
    ...(quantization ? { quantization } : {}),
    ...(ggufTokenizer !== undefined ? { hasTokenizer: ggufTokenizer } : {}),
    chatTemplate: chatTemplate ?? (format === 'hf' && hasHfChatTemplate(resolve(path))),
  };
}

// ---- model cache ----

interface CachedModel {
  backend: BackendName;
  loading: Promise<LoadedModel>;
}
const cache = new Map<string, CachedModel>();

async function useBackend(choice?: BackendChoice): Promise<BackendName> {
  if (!choice) return activeBackend();
  try {
    return await initBackend(choice);
  } catch (err) {
    throw new ApiError('unsupported', err instanceof Error ? err.message : String(err), { field: 'backend' });
  }
}

/** The loaded model at `path` on the active backend, loading it on first use. */
export async function getModel(path: string, backend?: BackendChoice): Promise<{ loaded: LoadedModel; backend: BackendName }> {
  const active = await useBackend(backend);
  const key = resolve(path);
  const cached = cache.get(key);
  if (cached && cached.backend === active) return { loaded: await cached.loading, backend: active };
  if (cached) {
    // Tensors belong to the backend that made them: reload rather than mix backends.
    cache.delete(key);
    (await cached.loading.catch(() => null))?.dispose();
  }
  const loading = loadModel(key);
  cache.set(key, { backend: active, loading });
  try {
    return { loaded: await loading, backend: active };
  } catch (err) {
    cache.delete(key);
    throw err;
  }
}

/** Disposes every cached model (or the one at `path`). */
export async function unloadModels(path?: string): Promise<void> {
  // Adapter sessions hold hooks on (or copies of) these models: drop them first.
  for (const shared of [...sessions.values()]) if (!path || shared.modelPath === resolve(path)) retire(shared);
  const keys = path ? [resolve(path)] : [...cache.keys()];
  for (const key of keys) {
    const cached = cache.get(key);
    cache.delete(key);
    (await cached?.loading.catch(() => null))?.dispose();
  }
}

// ---- a model with an optional adapter ----

/** `--adapter`: a registry adapter or run id (looked up in `home`), a PEFT folder or a PT+ export folder. */
export interface AdapterChoice {
  adapter?: string;
  /** The data folder registry ids are looked up in. */
  home?: string;
  /** Take `adapter` as a registry adapter or run id only, never as a folder (ids from an app client). */
  registryOnly?: boolean;
}

export interface ModelSession {
  loaded: LoadedModel;
  backend: BackendName;
  /** The adapter's hooks (undefined without one). */
  hooks?: ModelHooks;
  /** The adapter as attached (method, options after defaults) and what it was resolved from. */
  adapter?: { method: AttachedAdapter['adapter']['method']; options: Record<string, unknown>; resolved: ResolvedAdapter };
  /** Frees the adapter (and a model loaded for it alone). */
  release(): void;
}

/**
 * The model at `path`, with the adapter attached when one is chosen (checked against the model first).
 * Hook-based methods share the cached model; full fine-tuning rewrites the weights it attaches to, so it gets
 * a model of its own, freed by release().
 */
export async function openModel(path: string, choice: AdapterChoice = {}, backendChoice?: BackendChoice): Promise<ModelSession> {
  if (choice.adapter === undefined) {
    const { loaded, backend } = await getModel(path, backendChoice);
    return { loaded, backend, release: () => undefined };
  }
  if (!choice.home) throw new ApiError('invalid_argument', 'an adapter id needs the data folder', { field: 'home' });
  const adapter = choice.registryOnly ? resolveRegistryAdapter(choice.home, choice.adapter) : resolveAdapter(choice.home, choice.adapter);
  await checkAdapterBase(adapter, path);
  let loaded: LoadedModel;
  let backend: BackendName;
  const isOwnModel = adapter.method === 'full';
  if (isOwnModel) {
    backend = await useBackend(backendChoice);
    loaded = await loadBaseModel(resolve(path));
  } else {
    ({ loaded, backend } = await getModel(path, backendChoice));
  }
  try {
    const attached = attachAdapter(loaded, adapter, path);
    return {
      loaded,
      backend,
      hooks: attached.adapter.hooks,
      adapter: { method: attached.adapter.method, options: attached.options, resolved: adapter },
      release: () => {
        attached.adapter.dispose();
        if (isOwnModel) loaded.dispose();
      },
    };
  } catch (err) {
    if (isOwnModel) loaded.dispose();
    throw err;
  }
}

// ---- adapter sessions shared between generations ----

/**
 * The app's playground sends one generation after another with the same adapter (a chat): attaching it again
 * each time would re-read its tensors (and, for full fine-tuning, the whole model). The session is kept for
 * its key: model, backend, data folder, adapter id and the adapter's manifest stamp; any change of these opens
 * a new one and retires the old, which is freed once no generation uses it any more.
 */
interface SharedSession {
  key: string;
  modelPath: string;
  opening: Promise<ModelSession>;
  users: number;
  retired: boolean;
}
const sessions = new Map<string, SharedSession>();

function retire(shared: SharedSession): void {
  if (sessions.get(shared.key) === shared) sessions.delete(shared.key);
  shared.retired = true;
  if (shared.users === 0)
    void shared.opening.then(
      (s) => s.release(),
      () => undefined,
    );
}

/** When the registry entry's manifest was written (a removed and re-made id is another adapter); null when absent. */
function manifestStamp(home: string, id: string): string | null {
  for (const kind of ['adapter', 'run'] as const) {
    try {
      const st = statSync(join(entryDir(home, kind, id), MANIFEST_FILE));
      return `${kind}:${st.mtimeMs}:${st.size}`;
    } catch {
      // not this kind
    }
  }
  return null;
}

/** Open sessions with an adapter (for tests: how many are held). */
export function adapterSessionCount(): number {
  return sessions.size;
}

/** openModel, reusing the session of the same adapter; done() must be called when the caller has finished with it. */
async function acquireSession(path: string, choice: AdapterChoice, backendChoice?: BackendChoice): Promise<{ session: ModelSession; done(): void }> {
  const stamp = choice.adapter !== undefined && choice.home && choice.registryOnly ? manifestStamp(choice.home, choice.adapter) : null;
  if (!stamp) {
    // No adapter (the cached model is the session), a folder, or an id that does not resolve (openModel says why).
    const session = await openModel(path, choice, backendChoice);
    return { session, done: () => session.release() };
  }
  const backend = await useBackend(backendChoice);
  const key = JSON.stringify([resolve(path), backend, resolve(choice.home!), choice.adapter, stamp]);
  let shared = sessions.get(key);
  if (!shared) {
    // Another adapter (or model) now: the old session goes once its generations end.
    for (const other of [...sessions.values()]) retire(other);
    shared = { key, modelPath: resolve(path), opening: openModel(path, choice, backend), users: 0, retired: false };
    sessions.set(key, shared);
  }
  const held = shared;
  held.users++;
  let session: ModelSession;
  try {
    session = await held.opening;
  } catch (err) {
    held.users--;
    if (sessions.get(key) === held) sessions.delete(key);
    throw err;
  }
  let isDone = false;
  return {
    session,
    done: () => {
      if (isDone) return;
      isDone = true;
      held.users--;
      if (held.retired && held.users === 0) session.release();
    },
  };
}

// ---- logits ----

export interface LastLogitsRequest extends AdapterChoice {
  model: string;
  ids: number[];
  backend?: BackendChoice;
}

/** Logits of the last position after feeding `ids` (exactly these ids: no BOS is added), with the adapter if one is chosen. */
export async function lastLogits(req: LastLogitsRequest): Promise<{ backend: BackendName; logits: number[] }> {
  const session = await openModel(req.model, req, req.backend);
  try {
    const { loaded, backend, hooks } = session;
    const ids = checkIds(req.ids, loaded.model.config.vocabSize, 'ids');
    const logits = tf.tidy(() => loaded.model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'), { logits: 'last', hooks })); // [1, 1, V]
    try {
      return { backend, logits: Array.from(await logits.data()) };
    } finally {
      logits.dispose();
    }
  } finally {
    session.release();
  }
}

// ---- generation ----

export interface GenerateTextRequest extends AdapterChoice {
  model: string;
  /** Text to continue; encoded with the tokenizer's special tokens (BOS when the model wants it). */
  prompt?: string;
  /** Chat messages formatted with the model's chat template (instead of prompt). */
  messages?: ChatMessage[];
  /** Token ids to continue, used as given. */
  promptIds?: number[];
  maxNewTokens: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stopStrings?: string[];
  backend?: BackendChoice;
  /** Streaming: each generated token with the text it adds. */
  onToken?: (token: { id: number; text: string }) => void;
  signal?: AbortSignal;
}

export interface GenerateTextResult {
  backend: BackendName;
  promptIds: number[];
  /** Generated ids only (no stop token). */
  ids: number[];
  text: string;
  finishReason: 'eos' | 'stop_string' | 'length';
  tokensPerSecond: number;
}

export async function generateText(req: GenerateTextRequest): Promise<GenerateTextResult> {
  if (!Number.isInteger(req.maxNewTokens) || req.maxNewTokens < 0) {
    throw new ApiError('invalid_argument', 'maxNewTokens must be a non-negative integer', { field: 'maxNewTokens' });
  }
  const { session, done } = await acquireSession(req.model, req, req.backend);
  try {
    return await generateWith(session, req);
  } finally {
    done();
  }
}

async function generateWith({ loaded, backend, hooks }: ModelSession, req: GenerateTextRequest): Promise<GenerateTextResult> {
  const { model, tokenizer, generation } = loaded;
  const sources = [req.prompt !== undefined, req.messages !== undefined, req.promptIds !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new ApiError('invalid_argument', 'give exactly one of prompt, messages or promptIds', { field: 'prompt' });
  if (!req.promptIds && !tokenizer) {
    throw new ApiError('unsupported', 'this model has no tokenizer; pass promptIds', { field: 'prompt' });
  }

  let promptIds: number[];
  if (req.promptIds) promptIds = checkIds(req.promptIds, model.config.vocabSize, 'promptIds');
  else if (req.messages) promptIds = tokenizer!.encode(formatChat(tokenizer!, req.messages), { addSpecialTokens: false });
  else promptIds = tokenizer!.encode(req.prompt!);
  // An empty text prompt of a model without BOS still needs something to condition on.
  if (promptIds.length === 0) {
    const start = generation.bosTokenId ?? generation.eosTokenIds[0];
    if (start === undefined || start === null) throw new ApiError('invalid_argument', 'the prompt is empty and the model has no BOS token', { field: 'prompt' });
    promptIds = [start];
  }

  const decode = (ids: number[]): string => tokenizer?.decode(ids) ?? '';
  const generated: number[] = [];
  let previousText = '';
  const isSampling = req.greedy === false || (req.greedy === undefined && (req.temperature ?? 0) > 0);
  const result = await generate(model, [promptIds], {
    maxNewTokens: req.maxNewTokens,
    greedy: !isSampling,
    temperature: req.temperature,
    topK: req.topK,
    topP: req.topP,
    repetitionPenalty: req.repetitionPenalty,
    seed: req.seed,
    hooks,
    eosTokenIds: generation.eosTokenIds,
    stopStrings: tokenizer ? req.stopStrings : undefined,
    decode,
    signal: req.signal,
    onToken: req.onToken
      ? ({ id }) => {
          generated.push(id);
          const text = decode(generated);
          // Byte-fallback tokens may end mid-character; emit text once it decodes cleanly.
          if (text.endsWith('\uFFFD')) return req.onToken!({ id, text: '' });
          req.onToken!({ id, text: text.slice(previousText.length) });
          previousText = text;
        }
      : undefined,
  });
  const ids = result.ids[0];
  let text = decode(ids);
  for (const stop of req.stopStrings ?? []) {
    const at = stop ? text.indexOf(stop) : -1;
    if (at >= 0) text = text.slice(0, at);
  }
  const seconds = result.elapsedMs / 1000;
  return { backend, promptIds, ids, text, finishReason: result.finishReasons[0], tokensPerSecond: seconds > 0 ? ids.length / seconds : 0 };
}

function checkIds(ids: number[], vocabSize: number, field: string): number[] {
  if (!Array.isArray(ids) || ids.length === 0) throw new ApiError('invalid_argument', 'need at least one token id', { field });
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (bad !== undefined) throw new ApiError('invalid_argument', `token id ${bad} is outside the vocabulary (0..${vocabSize - 1})`, { field });
  return ids;
}
