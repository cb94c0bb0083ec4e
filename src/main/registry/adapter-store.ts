// Adapters: <home>/adapters/<id>/{adapter.safetensors, manifest.json}. The tensors are a method's stateDict
// (float32, our names = PEFT's layout where one exists); the manifest is the full provenance: method and
// every option, base model (path, architecture, sha256 of its files), dataset (path, sha256, split ids),
// seed, backend, app version, times and metrics. A folder is assembled under a hidden temp name and renamed
// into place, so an adapter is either complete or absent.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import type { ModelFormat } from '@shared/contract/calls/models';
import { SafetensorsReader, writeSafetensors, type F32Tensor } from '../engine/io/safetensors';
import { listCheckpoints } from '../engine/train/checkpoint';
import { readStateDictFile } from '../engine/io/state-dict-file';

export { readStateDictFile };
import type { MethodName, StateDict } from '../engine/methods/method';
import { APP_VERSION } from '../platform/version';
import { fsyncDir, writeJsonAtomic } from '../platform/atomic-write';
import { numericMetrics } from './entries';
import { readJsonOrNull, readJsonStrict, sha256File } from './files';
import { ADAPTER_TENSORS_FILE, MANIFEST_FILE, checkId, entryDir, kindDir, newId } from './layout';

export const ADAPTER_MANIFEST_VERSION = 1;

export interface FileHash {
  /** Path relative to the model folder (or the file name of a llama2.c checkpoint). */
  path: string;
  sha256: string;
  bytes: number;
}

export interface BaseModelRef {
  /** Folder (HF), .bin file (llama2.c) or .gguf file, absolute. */
  path: string;
  /** How the base is read (absent in records made before formats were recorded). */
  format?: ModelFormat;
  architecture: string;
  parameters?: number;
  /** Weight and config files with their sha256. */
  files: FileHash[];
}

export interface DatasetRef {
  path: string;
  sha256: string;
  kPerClass?: number | null;
  splitSeed?: number;
  trainIds: string[];
  evalIds: string[];
}

export interface AdapterManifest {
  version: 1;
  kind: 'adapter';
  id: string;
  name: string;
  method: MethodName;
  /** Every method option, defaults filled in. */
  options: Record<string, unknown>;
  /** The run it came from, and which checkpoint step; null for adapters made outside a run. */
  runId: string | null;
  checkpointStep: number | null;
  baseModel: BaseModelRef;
  dataset: DatasetRef | null;
  seed: number | null;
  learningRate: number | null;
  /** Every trainer option of the run. */
  trainer: Record<string, unknown> | null;
  backend: string;
  appVersion: string;
  tfjsVersion: string;
  createdAt: string;
  /** When the run started and ended (null outside a run). */
  startedAt: string | null;
  endedAt: string | null;
  /** Final metrics of the run (numbers; nested data such as confusion matrices kept as given). */
  metrics: Record<string, unknown>;
  tensors: { file: string; count: number; parameters: number; sha256: string; names: string[] };
}

// ---- base model files ----

/** Weight files as the trainer fingerprints them (engine/train/sources.ts), so run and adapter lists agree. */
const WEIGHT_FILE = /(\.safetensors|\.bin|\.pt|\.pth|\.gguf)$/;

/** The files that define a model's weights: config.json and weight files of a folder, or the file itself. */
export function modelWeightFiles(modelPath: string): string[] {
  const abs = resolve(modelPath);
  if (!existsSync(abs)) throw new ApiError('not_found', 'base model path does not exist', { file: abs });
  if (statSync(abs).isFile()) return [abs];
  const names = readdirSync(abs).filter((n) => n === 'config.json' || WEIGHT_FILE.test(n));
  return names.sort().map((n) => join(abs, n));
}

/** sha256 of every file modelWeightFiles lists (cached per process by size and mtime). */
export async function hashModelFiles(modelPath: string): Promise<FileHash[]> {
  const abs = resolve(modelPath);
  const out: FileHash[] = [];
  for (const file of modelWeightFiles(abs)) out.push({ path: basename(file), sha256: await sha256File(file), bytes: statSync(file).size });
  return out;
}

// ---- write ----

export interface SaveAdapterInput {
  name?: string;
  method: MethodName;
  options: Record<string, unknown>;
  state: StateDict;
  baseModel: Omit<BaseModelRef, 'files'> & { files?: FileHash[] };
  dataset?: DatasetRef | null;
  runId?: string | null;
  checkpointStep?: number | null;
  seed?: number | null;
  learningRate?: number | null;
  trainer?: Record<string, unknown> | null;
  backend?: string;
  startedAt?: string | null;
  endedAt?: string | null;
  metrics?: Record<string, unknown>;
}

function toTensors(state: StateDict): Record<string, F32Tensor> {
  const out: Record<string, F32Tensor> = {};
  for (const name of Object.keys(state).sort()) out[name] = { dtype: 'F32', shape: state[name].shape, data: state[name].data };
  return out;
}

/** Writes a new adapter folder atomically and returns its manifest. `fillTensors` puts adapter.safetensors into the temp folder. */
async function writeAdapterFolder(home: string, manifest: Omit<AdapterManifest, 'tensors'>, fillTensors: (path: string) => void): Promise<AdapterManifest> {
  const root = kindDir(home, 'adapter');
  mkdirSync(root, { recursive: true });
  const finalDir = entryDir(home, 'adapter', manifest.id);
  if (existsSync(finalDir)) throw new ApiError('already_exists', `adapter ${manifest.id} already exists`, { field: 'id' });
  const tempDir = join(root, `.${manifest.id}.${process.pid}.tmp`);
  rmSync(tempDir, { recursive: true, force: true });
  mkdirSync(tempDir);
  try {
    const tensorPath = join(tempDir, ADAPTER_TENSORS_FILE);
    fillTensors(tensorPath);
    const reader = SafetensorsReader.open(tensorPath);
    let parameters = 0;
    const names = [...reader.tensors.keys()].sort();
    for (const info of reader.tensors.values()) parameters += info.shape.reduce((a, b) => a * b, 1);
    reader.close();
    const full: AdapterManifest = {
      ...manifest,
      tensors: { file: ADAPTER_TENSORS_FILE, count: names.length, parameters, sha256: await sha256File(tensorPath), names },
    };
    await writeJsonAtomic(join(tempDir, MANIFEST_FILE), full);
    await fsyncDir(tempDir);
    renameSync(tempDir, finalDir);
    await fsyncDir(root);
    return full;
  } catch (err) {
    rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
}

/** Stores trained tensors as a new adapter with its provenance; returns the manifest. */
export async function saveAdapter(home: string, input: SaveAdapterInput): Promise<AdapterManifest> {
  if (Object.keys(input.state).length === 0) throw new ApiError('invalid_argument', 'the adapter has no tensors', { field: 'state' });
  const name = input.name?.trim() || `${input.method} ${basename(input.baseModel.path)}`;
  const now = new Date().toISOString();
  const manifest: Omit<AdapterManifest, 'tensors'> = {
    version: ADAPTER_MANIFEST_VERSION,
    kind: 'adapter',
    id: newId(name, 'adapter'),
    name,
    method: input.method,
    options: input.options,
    runId: input.runId ?? null,
    checkpointStep: input.checkpointStep ?? null,
    baseModel: { ...input.baseModel, path: resolve(input.baseModel.path), files: input.baseModel.files ?? (await hashModelFiles(input.baseModel.path)) },
    dataset: input.dataset ?? null,
    seed: input.seed ?? null,
    learningRate: input.learningRate ?? null,
    trainer: input.trainer ?? null,
    backend: input.backend ?? tf.getBackend() ?? 'unknown',
    appVersion: APP_VERSION,
    tfjsVersion: tf.version.tfjs,
    createdAt: now,
    startedAt: input.startedAt ?? null,
    endedAt: input.endedAt ?? null,
    metrics: input.metrics ?? {},
  };
  return writeAdapterFolder(home, manifest, (path) => writeSafetensors(path, toTensors(input.state), { format: 'pt', method: input.method }));
}

/**
 * Turns a finished run's last checkpoint into an adapter (tensors copied, provenance from the run manifest).
 * Refuses runs that are not finished, unless `allowUnfinished` (e.g. keeping a cancelled run's last step).
 */
export async function createAdapterFromRun(home: string, runId: string, opts: { name?: string; step?: number; allowUnfinished?: boolean } = {}): Promise<AdapterManifest> {
  const runDir = entryDir(home, 'run', checkId(runId, 'runId'));
  const run = readJsonOrNull(join(runDir, MANIFEST_FILE));
  if (!run) throw new ApiError('not_found', `no run "${runId}"`, { field: 'runId' });
  if (run.status !== 'finished' && !opts.allowUnfinished) {
    throw new ApiError('conflict', `run ${runId} is ${String(run.status)}; only finished runs make adapters`, { field: 'runId' });
  }
  // The complete checkpoint folders on disk decide, not the manifest's list: a run killed between writing a
  // checkpoint (or pruning one) and recording it, then resumed, can list a step that is gone or miss its newest.
  const checkpoints = listCheckpoints(join(runDir, 'checkpoints'));
  const chosen = opts.step === undefined ? checkpoints[checkpoints.length - 1] : checkpoints.find((c) => c.step === opts.step);
  if (!chosen) {
    throw new ApiError('not_found', opts.step === undefined ? `run ${runId} has no checkpoint` : `run ${runId} has no checkpoint at step ${opts.step}`, { field: 'step' });
  }
  const source = join(chosen.dir, ADAPTER_TENSORS_FILE);
  if (!existsSync(source)) throw new ApiError('not_found', 'checkpoint has no adapter.safetensors', { file: source });
  const base = (run.baseModel ?? {}) as BaseModelRef;
  const name = opts.name?.trim() || `${String(run.method)} ${basename(String(base.path ?? 'model'))} ${runId}`;
  const manifest: Omit<AdapterManifest, 'tensors'> = {
    version: ADAPTER_MANIFEST_VERSION,
    kind: 'adapter',
    id: newId(name, 'adapter'),
    name,
    method: run.method as MethodName,
    options: (run.methodOptions ?? {}) as Record<string, unknown>,
    runId,
    checkpointStep: chosen.step,
    baseModel: {
      path: String(base.path),
      ...(base.format ? { format: base.format } : {}),
      architecture: String(base.architecture),
      parameters: base.parameters,
      files: base.files ?? [],
    },
    dataset: (run.dataset ?? null) as DatasetRef | null,
    seed: typeof run.seed === 'number' ? run.seed : null,
    learningRate: typeof run.learningRate === 'number' ? run.learningRate : null,
    trainer: (run.trainer ?? null) as Record<string, unknown> | null,
    backend: String(run.backend ?? 'unknown'),
    appVersion: String(run.appVersion ?? APP_VERSION),
    tfjsVersion: tf.version.tfjs,
    createdAt: new Date().toISOString(),
    startedAt: typeof run.startedAt === 'string' ? run.startedAt : null,
    endedAt: typeof run.endedAt === 'string' ? run.endedAt : null,
    metrics: { ...((run.final ?? {}) as Record<string, unknown>), ...((run.result ?? {}) as Record<string, unknown>) },
  };
  return writeAdapterFolder(home, manifest, (path) => copyFileSync(source, path));
}

// ---- read ----

export function readAdapterManifest(home: string, id: string): AdapterManifest {
  const dir = entryDir(home, 'adapter', checkId(id));
  if (!existsSync(join(dir, MANIFEST_FILE))) throw new ApiError('not_found', `no adapter "${id}"`, { field: 'id' });
  const raw = readJsonStrict(join(dir, MANIFEST_FILE));
  if (raw.kind !== 'adapter' || typeof raw.method !== 'string' || !raw.baseModel) {
    throw new ApiError('bad_file', 'not an adapter manifest (kind, method or baseModel missing)', { file: join(dir, MANIFEST_FILE) });
  }
  return raw as unknown as AdapterManifest;
}

export function readAdapterState(home: string, id: string): StateDict {
  return readStateDictFile(join(entryDir(home, 'adapter', checkId(id)), ADAPTER_TENSORS_FILE));
}

/** Final numbers of an adapter's metrics (for listings). */
export function adapterMetricNumbers(manifest: AdapterManifest): Record<string, number> {
  return numericMetrics(manifest.metrics);
}
