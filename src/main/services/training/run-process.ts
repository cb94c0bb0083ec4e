// Runs one training job in a separate training process (worker.ts) and relays its messages as hooks: the
// progress, the logs, the result or the error. A process that dies while its run is 'running' leaves the run
// 'interrupted' (resumable), never stuck.
import type { TrainProgress, TrainResult } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import type { TrainJobSpec } from '../../engine/train/job';
import { trainingAllocatorEnv } from '../../platform/allocator-env';
import { nodeLauncher, type ProcessLauncher } from '../../platform/process-launcher';
import { RunsStore } from '../../registry/runs-store';
import { relayReplicas } from './replica-relay';
import { workerEntry, type ParentMessage, type WorkerMessage } from './worker-protocol';

/** Where a run executes: a separate training process (default), or this process (tests, one-shot CLI). */
export type Isolation = 'process' | 'inline';

export interface RunHooks {
  onProgress?: (progress: TrainProgress) => void;
  /** Non-fatal messages from the run (truncated examples, memory warnings). */
  onLog?: (message: string) => void;
  /** Once the run folder exists. */
  onStart?: (info: { runId: string; runDir: string; totalSteps: number }) => void;
  /** The training process's pid (process isolation only), e.g. to supervise it. */
  onSpawn?: (pid: number) => void;
  /** Abort = cancel: the run stops after the current step, checkpoints and is marked cancelled. */
  signal?: AbortSignal;
  isolate?: Isolation;
  /** How the training process is started: child_process.fork (default) or, in the Electron app, utilityProcess.fork. */
  launcher?: ProcessLauncher;
  /** false: a finished run does not become a registry adapter (learning-rate tuning runs, the app's queue). Default true. */
  registerAdapter?: boolean;
}

export function runInChildProcess(spec: TrainJobSpec, hooks: RunHooks): Promise<TrainResult> {
  const entry = workerEntry();
  const child = (hooks.launcher ?? nodeLauncher).launch(entry.file, {
    execArgv: entry.execArgv,
    // The allocator keeps a step's large buffers for the next step (platform/allocator-env.ts).
    env: { ...process.env, ...trainingAllocatorEnv(), ...entry.env },
    serviceName: 'PrefixLab training',
    // Relayed replica messages carry typed arrays (replica-relay.ts); Electron's channel is structured clone anyway.
    serialization: 'advanced',
  });
  const replicas = relayReplicas(child, hooks.launcher ?? nodeLauncher);
  // The child's stdout (tfjs prints banners) must never reach our stdout: `--json` output lives there.
  child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.onSpawn((pid) => hooks.onSpawn?.(pid));
  const send = (message: ParentMessage): boolean => child.send(message);
  const runId = spec.runId as string;

  return new Promise<TrainResult>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      send({ type: 'cancel' });
    };
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      replicas.close();
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.onMessage((raw) => {
      const message = raw as WorkerMessage;
      if (message && replicas.handle(message)) return;
      switch (message?.type) {
        case 'ready':
          send({ type: 'start', spec });
          if (hooks.signal?.aborted) onAbort();
          break;
        case 'started':
          hooks.onStart?.({ runId: message.runId, runDir: message.runDir, totalSteps: message.totalSteps });
          break;
        case 'progress':
          hooks.onProgress?.(message.progress);
          break;
        case 'log':
          hooks.onLog?.(message.message);
          break;
        case 'result':
          send({ type: 'done' });
          finish(() => resolve(message.result));
          break;
        case 'error':
          send({ type: 'done' });
          finish(() => reject(ApiError.from(message.error)));
          break;
      }
    });
    child.onError((err) => finish(() => reject(new ApiError('internal', `the training process could not start: ${err.message}`))));
    child.onExit(({ code, signal, detail }) => {
      if (settled) return;
      const how = `${signal ? `was killed (${signal})` : `exited with code ${code}`}${detail ? ` (${detail})` : ''}`;
      void markDead(spec.home, runId, `the training process ${how}`).finally(() =>
        finish(() =>
          reject(new ApiError('internal', `the training process ${how} before the run ended; run ${runId} is marked interrupted and can be resumed from its last checkpoint`)),
        ),
      );
    });
  });
}

/** A run whose process died while it was 'running' becomes 'interrupted' (resumable). */
async function markDead(home: string, runId: string, reason: string): Promise<void> {
  const store = new RunsStore(home);
  try {
    await store.update(runId, (m) => (m.status === 'running' ? { ...m, status: 'interrupted', reason, endedAt: new Date().toISOString() } : m));
  } catch {
    // the run folder was never created (the process died while loading)
  }
}
