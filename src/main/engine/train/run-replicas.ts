// A run's data-parallel replicas (trainer option dataParallel, replicas.ts): started when the run asks for more
// than one process and can have them; otherwise the run trains in one process and the log says why.
import type { BackendName } from '../backend';
import type { PeftAdapter } from '../methods/method';
import { freeMemoryBytes, gib, type MemoryVerdict } from './memory-guard';
import type { ReplicaLauncher } from './replica-link';
import { startReplicas, type GradientReplicas } from './replicas';

export interface RunReplicaRequest {
  processes: number;
  method: string;
  methodOptions: Record<string, unknown>;
  seed: number;
  modelPath: string;
  quantizedBase: boolean;
  backend: BackendName;
  /** Set up (PT+'s μ measured, or a checkpoint restored): its whole state goes to the replicas. */
  adapter: PeftAdapter;
  /** The memory guard's estimate of this process's run (which it let through). */
  memory: Pick<MemoryVerdict, 'estimate'>;
  log?: (message: string) => void;
  /** How the replicas start (default: forked by this process). */
  launch?: ReplicaLauncher;
}

/** Backend threads per process when `processes` share the machine's `cores`. */
export function threadsPerProcess(cores: number, processes: number): number {
  return Math.max(1, Math.floor(cores / Math.max(1, processes)));
}

/**
 * Why a run cannot have its replicas, or null when it can. `freeBytes`: the machine's free memory, which all the
 * processes share (on wasm each process has its own 4 GiB heap, and a replica needs no more of it than the training
 * process, whose run the guard already let through). `canStartProcesses`: false in an Electron utility process
 * that was given no launcher (it cannot fork; the app's main process starts its replicas).
 */
export function replicasRefusal(request: Pick<RunReplicaRequest, 'processes' | 'method' | 'memory'>, freeBytes: number, canStartProcesses: boolean): string | null {
  const { processes, method, memory } = request;
  if (method === 'full') return 'full fine-tuning trains every weight, which would cross between the processes at every step';
  if (!canStartProcesses) return 'this training process cannot start replica processes (an Electron utility process without a launcher)';
  // Each replica holds the base, its adapter and gradients, and its share of the activations.
  const { weightsBytes, trainableBytes, gradientBytes, activationsBytes, totalBytes } = memory.estimate;
  const perReplica = weightsBytes + trainableBytes + gradientBytes + activationsBytes / processes;
  const need = totalBytes + (processes - 1) * perReplica;
  if (need > freeBytes) {
    return `${processes} processes would need about ${gib(need)} (each holds a copy of the model), ${gib(freeBytes)} is free`;
  }
  return null;
}

/** The run's replicas, or undefined (one process) with a log line saying why. */
export async function startRunReplicas(request: RunReplicaRequest): Promise<GradientReplicas | undefined> {
  const { processes, adapter, log } = request;
  if (processes <= 1) return undefined;
  const refusal = replicasRefusal(request, freeMemoryBytes(), request.launch !== undefined || process.versions.electron === undefined);
  if (refusal) {
    log?.(`dataParallel ${processes}: training in one process: ${refusal}`);
    return undefined;
  }
  const threads = Number(process.env.TF_NUM_INTRAOP_THREADS) || 1;
  let replicas: GradientReplicas;
  try {
    replicas = await startReplicas(
      processes - 1,
      {
        model: { path: request.modelPath, load: { quantizedBase: request.quantizedBase } },
        method: request.method,
        methodOptions: request.methodOptions,
        seed: request.seed,
        backend: request.backend,
      },
      adapter.stateDict(),
      { threads, shapes: adapter.trainableVariables().map((v) => v.shape), launch: request.launch },
    );
  } catch (err) {
    log?.(`dataParallel ${processes}: training in one process: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  log?.(
    `dataParallel ${processes}: each step's rows are shared with ${processes - 1} replica process${processes > 2 ? 'es' : ''} (${threads} backend thread${threads > 1 ? 's' : ''} each)`,
  );
  return replicas;
}
