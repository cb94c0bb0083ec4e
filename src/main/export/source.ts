// What an export starts from: an adapter in <home>/adapters, or a finished run (its last checkpoint) in
// <home>/runs. Both become the same ExportSource: method, options, base model and a way to read the tensors.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import type { MethodName, StateDict } from '../engine/methods/method';
import { readAdapterManifest, readAdapterState, readStateDictFile } from '../registry/adapter-store';
import { readJsonOrNull } from '../registry/files';
import { ADAPTER_TENSORS_FILE, MANIFEST_FILE, checkId, entryDir } from '../registry/layout';

export interface ExportSource {
  kind: 'adapter' | 'run';
  id: string;
  method: MethodName;
  /** Method options as stored (defaults are re-applied when attaching). */
  options: Record<string, unknown>;
  /** Base model folder or llama2.c .bin. */
  baseModelPath: string;
  architecture: string;
  seed: number | null;
  readState(): StateDict;
}

/** Resolves an adapter id or a run id; refuses unknown ids and runs that have not finished. */
export function resolveExportSource(home: string, id: string): ExportSource {
  checkId(id);
  if (existsSync(join(entryDir(home, 'adapter', id), MANIFEST_FILE))) {
    const m = readAdapterManifest(home, id);
    return {
      kind: 'adapter',
      id,
      method: m.method,
      options: m.options ?? {},
      baseModelPath: m.baseModel.path,
      architecture: m.baseModel.architecture,
      seed: m.seed,
      readState: () => readAdapterState(home, id),
    };
  }
  const runDir = entryDir(home, 'run', id);
  const run = readJsonOrNull(join(runDir, MANIFEST_FILE));
  if (!run) throw new ApiError('not_found', `no adapter or run "${id}"`, { field: 'id' });
  if (run.status !== 'finished') {
    throw new ApiError('conflict', `run ${id} is ${String(run.status)}; only finished runs can be exported`, { field: 'id' });
  }
  const checkpoints = (Array.isArray(run.checkpoints) ? run.checkpoints : []) as { step: number; dir: string }[];
  const last = checkpoints[checkpoints.length - 1];
  const tensors = last ? join(runDir, last.dir, ADAPTER_TENSORS_FILE) : null;
  if (!tensors || !existsSync(tensors)) throw new ApiError('not_found', `run ${id} has no checkpoint to export`, { field: 'id' });
  const base = (run.baseModel ?? {}) as { path?: string; architecture?: string };
  return {
    kind: 'run',
    id,
    method: run.method as MethodName,
    options: (run.methodOptions ?? {}) as Record<string, unknown>,
    baseModelPath: String(base.path ?? ''),
    architecture: String(base.architecture ?? ''),
    seed: typeof run.seed === 'number' ? run.seed : null,
    readState: () => readStateDictFile(tensors),
  };
}
