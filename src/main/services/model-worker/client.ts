// The app's side of the model worker process: one child process (started on first use, restarted after a
// crash or kill), calls with a time limit each, events streamed to the caller, and cancellation. A call past
// its limit kills the process: every call still running in it fails with one clear error and the next call
// starts a fresh process. A cancelled call fails at once; if the worker has not stopped it CANCEL_GRACE_MS
// later and nothing else runs there, the process is killed too.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ApiError } from '@shared/errors';
import { nodeLauncher, type LaunchedProcess, type ProcessLauncher } from '../../platform/process-launcher';
import type { FromWorker, ToWorker, WorkerCalls, WorkerMethod } from './protocol';

/** Time limits per call (ms), stated in docs/reliability.md. */
export const DEFAULT_LIMITS_MS: Record<WorkerMethod, number> = {
  inspectModel: 2 * 60_000,
  generate: 15 * 60_000,
  scanDataset: 30 * 60_000,
  importDataset: 30 * 60_000,
  /** Headers only, at most 20,000 folder entries per store: seconds even on a slow disk. */
  discoverModels: 2 * 60_000,
  previewTokens: 60_000,
  spin: 60_000,
};
/** How long a cancelled call may take to stop before the process is killed. */
export const CANCEL_GRACE_MS = 3000;

export interface WorkerEntry {
  file: string;
  execArgv: string[];
  env: Record<string, string>;
}

interface Pending {
  method: WorkerMethod;
  resolve(value: unknown): void;
  reject(err: ApiError): void;
  onEvent?: (event: unknown) => void;
}

export interface CallOptions<E> {
  signal?: AbortSignal;
  onEvent?: (event: E) => void;
  /** Overrides the method's default time limit. */
  timeoutMs?: number;
}

export class ModelWorker {
  private child: LaunchedProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  /** Cancelled calls the worker has not finished yet. */
  private readonly cancelled = new Set<number>();
  private nextId = 1;
  private readonly limits: Record<WorkerMethod, number>;

  /** `launcher`: how the process starts (Electron passes its utilityProcess launcher: RunAsNode is off there). */
  constructor(private readonly options: { entry?: WorkerEntry; limits?: Partial<Record<WorkerMethod, number>>; launcher?: ProcessLauncher } = {}) {
    this.limits = { ...DEFAULT_LIMITS_MS, ...options.limits };
  }

  /** The worker's process id while one runs (tests check that a timed-out call's process is gone). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  call<M extends WorkerMethod>(method: M, args: WorkerCalls[M]['args'], opts: CallOptions<WorkerCalls[M]['event']> = {}): Promise<WorkerCalls[M]['result']> {
    if (opts.signal?.aborted) return Promise.reject(new ApiError('cancelled', 'cancelled'));
    const child = this.ensureChild();
    const id = this.nextId++;
    const limit = opts.timeoutMs ?? this.limits[method];
    return new Promise<WorkerCalls[M]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill(child, `${method} took longer than its ${Math.round(limit / 1000)} s limit and was stopped`, 'internal');
      }, limit);
      const onAbort = (): void => {
        // The caller hears at once; the worker is told to stop and is watched until it does.
        this.send(child, { type: 'cancel', id });
        const call = this.pending.get(id);
        call?.reject(new ApiError('cancelled', `${method} was cancelled`));
        this.watchCancelled(child, id);
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        method,
        onEvent: opts.onEvent as ((event: unknown) => void) | undefined,
        resolve: (value) => {
          done();
          resolve(value as WorkerCalls[M]['result']);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.send(child, { type: 'call', id, method, args });
    });
  }

  /**
   * A cancelled call still running in the worker after CANCEL_GRACE_MS (stuck in a regex, a loop) gets the
   * process killed — once no other call is running in it, so a stuck call never takes innocent calls down
   * (those still end at their own time limit, which kills the process as well).
   */
  private watchCancelled(child: LaunchedProcess, id: number): void {
    this.cancelled.add(id);
    const check = (): void => {
      if (this.child !== child || !this.cancelled.has(id)) return;
      if (this.pending.size === 0) this.kill(child, 'a cancelled call did not stop and its worker was stopped', 'cancelled');
      else setTimeout(check, CANCEL_GRACE_MS).unref();
    };
    setTimeout(check, CANCEL_GRACE_MS).unref();
  }

  /** Stops the process (calls still running fail). */
  close(): void {
    if (this.child) this.kill(this.child, 'the model worker was shut down', 'cancelled');
  }

  private send(child: LaunchedProcess, message: ToWorker): void {
    child.send(message);
  }

  private ensureChild(): LaunchedProcess {
    if (this.child) return this.child;
    const entry = this.options.entry ?? modelWorkerEntry();
    const child = (this.options.launcher ?? nodeLauncher).launch(entry.file, {
      execArgv: entry.execArgv,
      env: { ...process.env, ...entry.env },
      serviceName: 'PrefixLab model worker',
    });
    // The worker's stdout (tfjs banners) must never reach ours: `--json` and serve's first line live there.
    child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.onMessage((raw) => {
      const message = raw as FromWorker;
      if (message.type === 'ready') return;
      if (message.type !== 'event') this.cancelled.delete(message.id);
      const call = this.pending.get(message.id);
      if (!call) return;
      if (message.type === 'event') call.onEvent?.(message.event);
      else if (message.type === 'result') call.resolve(message.value);
      else call.reject(ApiError.from(message.error));
    });
    child.onError((err) => this.failAll(child, new ApiError('internal', `the model worker could not run: ${err.message}`)));
    child.onExit(({ code, signal }) => this.failAll(child, new ApiError('internal', `the model worker ${signal ? `was killed (${signal})` : `exited with code ${code}`}`)));
    // The app may exit while the worker is idle.
    child.unref();
    this.child = child;
    return child;
  }

  private kill(child: LaunchedProcess, message: string, code: 'internal' | 'cancelled'): void {
    this.failAll(child, new ApiError(code, message));
    // SIGKILL: a worker stuck in a regex or a loop never runs a handler.
    child.kill('SIGKILL');
  }

  private failAll(child: LaunchedProcess, err: ApiError): void {
    if (this.child !== child) return;
    this.child = null;
    this.cancelled.clear();
    for (const call of [...this.pending.values()]) call.reject(err);
  }
}

/**
 * The bundled `model-worker.js` beside this module's bundle (the electron-vite main build lists
 * src/main/services/model-worker/worker.ts as entry `model-worker`), else — running from source (vitest,
 * tsx) — worker.ts through tsx's loader with tsconfig.node.json's path aliases.
 */
export function modelWorkerEntry(): WorkerEntry {
  const here = dirname(fileURLToPath(import.meta.url));
  if (!import.meta.url.endsWith('.ts')) {
    for (const bundled of [join(here, 'model-worker.js'), join(here, '..', 'model-worker.js')]) {
      if (existsSync(bundled)) return { file: bundled, execArgv: [], env: {} };
    }
  }
  const source = join(here, 'worker.ts');
  const loader = createRequire(import.meta.url).resolve('tsx');
  let dir = here;
  const env: Record<string, string> = {};
  for (let i = 0; i < 8; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'tsconfig.node.json'))) {
      env.TSX_TSCONFIG_PATH = join(dir, 'tsconfig.node.json');
      break;
    }
  }
  return { file: source, execArgv: ['--import', pathToFileURL(loader).href], env };
}
