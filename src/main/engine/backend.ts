// Chooses and reports the TensorFlow.js compute backend: tfjs-node-gpu (CUDA) → tfjs-node → wasm → cpu.
// The native packages are optional dependencies whose install downloads libtensorflow; where that failed,
// npm removed them and we fall back, always recording why each candidate could not be used.
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { ApiError } from '@shared/errors';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Why it cannot be used; absent when available. */
  reason?: string;
}

const requireNative = createRequire(import.meta.url);
const statuses = new Map<BackendName, BackendStatus>();
let active: BackendName | undefined;

/** tfjs registers the native backend under the name 'tensorflow' for both the CPU and the CUDA build. */
function tfName(name: BackendName): string {
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}

async function tryRegister(name: BackendName): Promise<BackendStatus> {
  const cached = statuses.get(name);
  if (cached) return cached;
  let status: BackendStatus;
  try {
    if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      // PREFIXLAB_TFJS_NODE=off hides both native builds, installed or local: how CI runs the tests as a new
      // machine has them (wasm/cpu only) even where the native backend exists.
      if (process.env.PREFIXLAB_TFJS_NODE === 'off') throw new Error('turned off by PREFIXLAB_TFJS_NODE=off');
      if (name === 'tensorflow' && statuses.get('tensorflow-gpu')?.available) {
        throw new Error('the CUDA build of the native backend is already loaded');
      }
      let target = pkg;
      let installedWithoutBinding = false;
      try {
        requireNative.resolve(pkg);
        // npm keeps the package when its install script could not download libtensorflow (offline). Requiring
        // it would register its kernels before the binding fails (and the next candidate would print ~150
        // "already registered" lines): treat it as absent and look for a local build.
        if (!nativeBindingOf(pkg)) {
          installedWithoutBinding = true;
          throw new Error('no native binding');
        }
      } catch {
        // Not installed. The CPU build may come from a local build instead (scripts/native-tf/setup.sh):
        // $PREFIXLAB_TFJS_NODE (a package folder), else .native/node_modules/@tensorflow/tfjs-node in the
        // working directory or in a folder above this module.
        const path = requireNative('node:path') as typeof import('node:path');
        const { fileURLToPath } = requireNative('node:url') as typeof import('node:url');
        const env = name === 'tensorflow' ? process.env.PREFIXLAB_TFJS_NODE : undefined;
        const dirs = env ? [path.resolve(env)] : [];
        if (name === 'tensorflow' && !env) {
          const bases = [process.cwd()];
          for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
            bases.push(dir);
            if (path.dirname(dir) === dir) break;
          }
          dirs.push(...bases.map((base) => path.join(base, '.native', 'node_modules', pkg)));
        }
        const found = dirs.find((dir) => {
          try {
            return Boolean(requireNative.resolve(dir));
          } catch {
            return false;
          }
        });
        if (!found) {
          throw new Error(
            env
              ? `PREFIXLAB_TFJS_NODE=${env} is not a loadable ${pkg} package folder`
              : installedWithoutBinding
                ? `${pkg} is installed without its native binding (its install could not download libtensorflow; see docs/performance.md)`
                : `${pkg} is not installed (its install downloads libtensorflow; see docs/performance.md)`,
          );
        }
        target = found;
      }
      if (!nativeBindingOf(target)) throw new Error(`${target} has no compiled native binding (lib/napi-v*/tfjs_binding.node)`);
      // Loading the binding registers the 'tensorflow' backend with the tfjs-core it resolves.
      // libtensorflow logs CPU-feature and oneDNN notices at start-up; keep warnings and errors only.
      process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
      requireNative(target);
      if (!tf.findBackendFactory('tensorflow')) {
        throw new Error(`${pkg} loaded but registered no backend with this copy of tfjs-core`);
      }
    } else if (name === 'wasm') {
      // Importing registers the backend; in Node its binaries are read from the package's own dist folder
      // (setWasmPaths would switch it to fetch(), which cannot read file paths).
      await import('@tensorflow/tfjs-backend-wasm');
    }
    status = { name, available: true };
  } catch (err) {
    status = { name, available: false, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
  statuses.set(name, status);
  return status;
}

/** The compiled tfjs binding (lib/napi-vN/tfjs_binding.node) of the tfjs-node package `target` resolves to, if any. */
function nativeBindingOf(target: string): string | undefined {
  const fs = requireNative('node:fs') as typeof import('node:fs');
  const path = requireNative('node:path') as typeof import('node:path');
  let dir = path.dirname(requireNative.resolve(target));
  // The entry is lib/index.js or dist/index.js: the package root holds package.json.
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const lib = path.join(dir, 'lib');
  if (!fs.existsSync(lib)) return undefined;
  return fs
    .readdirSync(lib)
    .filter((name) => name.startsWith('napi-v'))
    .map((name) => path.join(lib, name, 'tfjs_binding.node'))
    .find((file) => fs.existsSync(file));
}

/** Probes every candidate once; the result lists each backend with the reason it cannot be used. */
export async function probeBackends(): Promise<BackendStatus[]> {
  const out: BackendStatus[] = [];
  for (const name of BACKEND_ORDER) out.push(await tryRegister(name));
  return out;
}

/**
 * Activates `preferred` when given (failing loudly if it cannot load), else the first that works.
 * Returns the backend now active.
 */
export async function initBackend(preferred?: BackendName | 'auto'): Promise<BackendName> {
  const order = preferred && preferred !== 'auto' ? [preferred] : BACKEND_ORDER;
  const errors: string[] = [];
  for (const name of order) {
    const status = await tryRegister(name);
    if (!status.available) {
      errors.push(`${name}: ${status.reason}`);
      continue;
    }
    try {
      const ok = await tf.setBackend(tfName(name));
      if (!ok) throw new Error('tf.setBackend returned false');
      await tf.ready();
      if (name === 'cpu') {
        // tfjs-backend-cpu prints a banner urging tfjs-node on first use; we already report the backend
        // and why the native one is missing, so mark the backend as used.
        (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      }
      active = name;
      return name;
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      statuses.set(name, { name, available: false, reason });
      errors.push(`${name}: ${reason}`);
    }
  }
  throw new Error(`no compute backend could be started (${errors.join('; ')})`);
}

/** The backend currently in use (initialising the default order on first use). */
export async function activeBackend(): Promise<BackendName> {
  if (active && tf.getBackend() === tfName(active)) return active;
  return initBackend('auto');
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(value);
}

/** 32-bit WebAssembly addresses at most 4 GiB: tfjs's wasm heap can never grow past it. */
export const WASM_HEAP_LIMIT_BYTES = 4 * 2 ** 30;

/**
 * True when `err` is the wasm module's abort: how it reports a failed allocation, as a bare
 * `RuntimeError: Aborted()`. The module is unusable afterwards, frees included.
 */
export function isWasmAbort(err: unknown, backend: BackendName): boolean {
  return backend === 'wasm' && err instanceof Error && err.name === 'RuntimeError' && /^Aborted\(/.test(err.message);
}

/**
 * A failure of the compute backend in words a user can act on: in training a wasm abort almost always means
 * a step needed more than the 4 GiB heap. Other errors pass through unchanged.
 */
export function explainBackendFailure(err: unknown, backend: BackendName): unknown {
  if (!isWasmAbort(err, backend)) return err;
  return new ApiError(
    'out_of_memory',
    'the wasm backend aborted: a training step needed more than its 4 GiB heap (32-bit WebAssembly). ' +
      'Lower batchSize or maxLength (or set batchTokens), or install the native backend (@tensorflow/tfjs-node), which has no such limit',
    { field: 'batchSize' },
  );
}
