// `--adapter ID|DIR` for logits, generate and eval: resolves a registry adapter id, a finished run id (its last
// checkpoint), a PEFT folder or a PT+ export folder to one method + options + tensors, checks that it belongs to
// the given base model, and attaches it with export's own attachWithState (the code the export parity check
// runs), so what the CLI computes with an adapter is what export compares against.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { LoadedModel } from '../engine/io/load-model';
import type { MethodName, StateDict } from '../engine/methods/method';
import { allMethods } from '../engine/methods/registry';
import { attachWithState, type AttachedAdapter } from '../export/engine-session';
import { PEFT_CONFIG_FILE, readPeftFolder } from '../export/peft-format';
import { readPtplusFolder } from '../export/ptplus-format';
import { resolveExportSource } from '../export/source';
import { hashModelFiles, readAdapterManifest, type FileHash } from '../registry/adapter-store';
import { readJsonStrict } from '../registry/files';
import { MANIFEST_FILE, entryDir, isValidId } from '../registry/layout';
import { RunsStore } from '../registry/runs-store';

/** adapter_config.json files are a few KiB; anything this large is not one (and is never read whole). */
const MAX_CONFIG_BYTES = 1 << 20;

export interface ResolvedAdapter {
  kind: 'adapter' | 'run' | 'peft' | 'ptplus';
  /** The id or folder as given (folders resolved). */
  ref: string;
  method: MethodName;
  options: Record<string, unknown>;
  /** The base the adapter was made on: its path as recorded, and (registry entries) the hashes of its weight files. */
  base: { path: string | null; files: FileHash[] | null };
  /** Trainer options of the run it came from (registry entries), else null. */
  trainer: Record<string, unknown> | null;
  /** The run it came from, else null. */
  runId: string | null;
  readState(): StateDict;
}

/** `ref` as a folder when one exists at that path, else as a registry adapter or run id. */
export function resolveAdapter(home: string, ref: string): ResolvedAdapter {
  if (typeof ref !== 'string' || ref.trim() === '') throw new ApiError('invalid_argument', 'give an adapter id, run id or adapter folder', { field: '--adapter' });
  const path = resolve(ref);
  if (existsSync(path)) return resolveFolder(path);
  if (!isValidId(ref)) throw new ApiError('not_found', 'no such adapter folder', { file: path });
  return resolveRegistryAdapter(home, ref, `no adapter or run "${ref}" in ${home}, and no folder of that name`);
}

/** A registry adapter id or a finished run id only (never a path): what the app's calls take from a client. */
export function resolveRegistryAdapter(home: string, ref: string, notFound = `no adapter or run "${ref}" in ${home}`): ResolvedAdapter {
  if (!isValidId(ref)) throw new ApiError('invalid_argument', `${JSON.stringify(ref)} is not an adapter or run id`, { field: '--adapter' });
  const adapterDir = entryDir(home, 'adapter', ref);
  const runDir = entryDir(home, 'run', ref);
  if (!existsSync(join(adapterDir, MANIFEST_FILE)) && !existsSync(join(runDir, MANIFEST_FILE))) {
    throw new ApiError('not_found', notFound, { field: '--adapter' });
  }
  const source = resolveExportSource(home, ref);
  if (source.kind === 'adapter') {
    const m = readAdapterManifest(home, ref);
    return {
      kind: 'adapter',
      ref,
      method: source.method,
      options: source.options,
      base: { path: m.baseModel.path, files: m.baseModel.files ?? null },
      trainer: m.trainer,
      runId: m.runId,
      readState: source.readState,
    };
  }
  const run = new RunsStore(home).read(ref);
  return {
    kind: 'run',
    ref,
    method: source.method,
    options: source.options,
    base: { path: run.baseModel.path, files: run.baseModel.files },
    trainer: run.trainer,
    runId: ref,
    readState: source.readState,
  };
}

/** A PEFT folder or a PT+ export (adapter_config.json + adapter_model.safetensors, as export writes them). */
function resolveFolder(dir: string): ResolvedAdapter {
  if (!statSync(dir).isDirectory()) {
    throw new ApiError('bad_file', `not an adapter folder (give a folder with ${PEFT_CONFIG_FILE} and adapter_model.safetensors, or an adapter or run id)`, { file: dir });
  }
  const configPath = join(dir, PEFT_CONFIG_FILE);
  if (!existsSync(configPath)) throw new ApiError('not_found', `not an adapter folder: ${PEFT_CONFIG_FILE} is missing`, { file: configPath });
  if (statSync(configPath).size > MAX_CONFIG_BYTES) throw new ApiError('bad_file', `larger than ${MAX_CONFIG_BYTES} bytes; not an adapter config`, { file: configPath });
  const config = readJsonStrict(configPath);
  const isPtplus = allMethods().some((m) => m.exports.ptplus?.peftType === config.peft_type);
  const back = isPtplus ? readPtplusFolder(dir) : readPeftFolder(dir);
  const basePath = typeof config.base_model_name_or_path === 'string' && config.base_model_name_or_path ? config.base_model_name_or_path : null;
  return {
    kind: isPtplus ? 'ptplus' : 'peft',
    ref: dir,
    method: back.method,
    options: back.options,
    base: { path: basePath, files: null },
    trainer: null,
    runId: null,
    readState: () => back.state,
  };
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function sameFiles(a: readonly FileHash[], b: readonly FileHash[]): boolean {
  // By content only: a renamed copy of the same weights is the same base.
  const key = (files: readonly FileHash[]): string =>
    files
      .map((f) => f.sha256)
      .sort()
      .join(',');
  return key(a) === key(b);
}

/**
 * Refuses an adapter made on another model, in one line: registry entries by the sha256 of the base's weight
 * files; folders by their base_model_name_or_path when that names a model on this machine (its files are
 * compared); anything else is left to the tensor shapes, which attachAdapter checks.
 */
export async function checkAdapterBase(adapter: ResolvedAdapter, modelPath: string): Promise<void> {
  const model = resolve(modelPath);
  const recorded = adapter.base.path;
  const mismatch = (why: string): ApiError =>
    new ApiError('conflict', `adapter ${adapter.ref} was made on ${recorded ?? 'another model'}, not on ${model} (${why})`, { field: '--adapter' });
  if (adapter.base.files && adapter.base.files.length > 0) {
    if (!sameFiles(adapter.base.files, await hashModelFiles(model))) throw mismatch('the weight files differ');
    return;
  }
  if (recorded && existsSync(recorded) && realOrSelf(recorded) !== realOrSelf(model)) {
    if (!sameFiles(await hashModelFiles(recorded), await hashModelFiles(model))) throw mismatch('the weight files differ');
  }
}

/** Attaches the adapter's tensors to `loaded` for inference (dropout off); a tensor that does not fit is one line. */
export function attachAdapter(loaded: LoadedModel, adapter: ResolvedAdapter, modelPath: string): AttachedAdapter {
  try {
    return attachWithState(loaded, adapter.method, adapter.options, adapter.readState());
  } catch (err) {
    if (err instanceof ApiError && err.code === 'invalid_argument') {
      throw new ApiError('conflict', `adapter ${adapter.ref} does not fit ${resolve(modelPath)}: ${err.message}`, { field: '--adapter' });
    }
    throw err;
  }
}
