// Training one run for the CLI and the app: `train` runs a RunSpec (src/shared/run-spec.ts) in a separate
// training process (run-process.ts) or inline, and makes a finished run a registry adapter; `resume` continues a
// run from its newest checkpoint with what it started with. Results are the public JSON of
// `prefixlab train --json` (src/shared/contract/training.ts).
import type { TrainResult } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import type { RunSpec } from '@shared/run-spec';
import { activeBackend, type BackendName } from '../../engine/backend';
import { getMethod } from '../../engine/methods/registry';
import type { TrainJobSpec } from '../../engine/train/job';
import { isOwnerAlive } from '../../platform/process-identity';
import { APP_VERSION } from '../../platform/version';
import { createAdapterFromRun } from '../../registry/adapter-store';
import { RunsStore } from '../../registry/runs-store';
import { runInChildProcess, type RunHooks } from './run-process';
import type { TorchEngineOptions } from './torch-engine/run-torch';

export type { Isolation, RunHooks } from './run-process';

export interface TrainRequest extends RunHooks {
  home: string;
  /** The run, as the CLI or the app built it; passed on to the engine as it is. */
  spec: RunSpec;
  backend?: BackendName | 'auto';
  /** How the torch engine starts (spec.engine 'torch'): its Python, processes, accelerate config. */
  torch?: TorchEngineOptions;
}

/** Trains one run; resolves when it ends (finished, cancelled or failed: see result.status). */
export async function train(req: TrainRequest): Promise<TrainResult> {
  getMethod(req.spec.method.name); // unknown method: fail here, before a process starts
  if (req.spec.engine === 'torch') return runOnTorch({ ...req, runId: RunsStore.newRunId(req.spec.method.name) });
  const job: TrainJobSpec = {
    home: req.home,
    runSpec: req.spec,
    // The training process starts the backend this process uses unless told otherwise.
    backend: req.backend ?? (await activeBackend()),
    appVersion: APP_VERSION,
    runId: RunsStore.newRunId(req.spec.method.name),
  };
  return execute(job, req);
}

/** Continues run `runId` from its newest checkpoint with the options it started with. */
export async function resume(req: { home: string; runId: string; backend?: BackendName | 'auto'; torch?: TorchEngineOptions } & RunHooks): Promise<TrainResult> {
  const manifest = new RunsStore(req.home).read(req.runId);
  if (manifest.status === 'finished') throw new ApiError('conflict', `run ${req.runId} has already finished`, { field: 'runId' });
  // 'running' with its process gone (or its pid reused) is an interrupted run the app has not marked yet.
  if (manifest.status === 'running' && isOwnerAlive(manifest.pid, manifest.pidStartTime)) {
    throw new ApiError('conflict', `run ${req.runId} is still running (pid ${manifest.pid})`, { field: 'runId' });
  }
  if (manifest.runSpec?.engine === 'torch') return runOnTorch({ ...req, resume: true });
  const job: TrainJobSpec = {
    home: req.home,
    backend: req.backend ?? (await activeBackend()),
    appVersion: APP_VERSION,
    runId: req.runId,
    resume: true,
  };
  return execute(job, req);
}

/** Marks runs left 'running' by a dead process as 'interrupted'; call once when the service starts. */
export async function recoverInterruptedRuns(home: string): Promise<string[]> {
  return new RunsStore(home).markInterrupted();
}

async function execute(job: TrainJobSpec, hooks: RunHooks): Promise<TrainResult> {
  if (hooks.signal?.aborted) throw new ApiError('cancelled', 'training was cancelled before it started');
  let result: TrainResult;
  if (hooks.isolate === 'inline') {
    const { runTrainJob } = await import('../../engine/train/job');
    result = await runTrainJob(job, { recorder: new RunsStore(job.home), signal: hooks.signal, onProgress: hooks.onProgress, onStart: hooks.onStart, log: hooks.onLog });
  } else {
    result = await runInChildProcess(job, hooks);
  }
  return hooks.registerAdapter === false ? result : withAdapter(job.home, result, hooks);
}

/** A run on the torch engine (python/prefixlab_torch), registered like ours when it finishes. */
async function runOnTorch(req: { home: string; runId: string; spec?: RunSpec; resume?: boolean; torch?: TorchEngineOptions } & RunHooks): Promise<TrainResult> {
  if (req.signal?.aborted) throw new ApiError('cancelled', 'training was cancelled before it started');
  // Imported on use: a tfjs run never loads the torch engine's modules.
  const { runTorch } = await import('./torch-engine/run-torch');
  const result = await runTorch({ ...req, appVersion: APP_VERSION });
  return req.registerAdapter === false ? result : withAdapter(req.home, result, req);
}

/** A finished run becomes a registry adapter (its final checkpoint plus provenance), so it can be exported. */
async function withAdapter(home: string, result: TrainResult, hooks: RunHooks): Promise<TrainResult> {
  if (result.status !== 'finished') return result;
  try {
    const adapter = await createAdapterFromRun(home, result.runId);
    return { ...result, adapterId: adapter.id };
  } catch (err) {
    // The run itself succeeded and stays exportable by its id; say why no adapter entry was made.
    hooks.onLog?.(`run ${result.runId} finished but no adapter entry was made: ${err instanceof Error ? err.message : String(err)}`);
    return result;
  }
}
