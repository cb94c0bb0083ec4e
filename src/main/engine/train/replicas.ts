// Data parallelism inside a training step: N − 1 replica processes each take a share of every micro-batch's
// rows, with one backend thread each, while the training process (the leader) takes the first share. Why
// processes: TensorFlow's eager kernels split poorly across threads at the tensor sizes of short sequences
// (~300 K values; docs/performance.md, "Every SmolLM2 method at T = 64 and 256"), while two whole steps on half
// the rows each keep two cores busy. tfjs-node cannot run in worker threads (its native binding keeps one
// backend per process), hence processes.
//
// The leader sends the current trainable weights once every step (not again for the step's later micro-batches,
// whose weights are the same) and sums the gradients it gets back, then clips and updates as usual: the replicas
// keep no optimiser state and cannot drift. Losses are the same sum over the step's target tokens, so a
// data-parallel step equals the single-process step up to float rounding (replicas.test.ts), except for dropout,
// whose masks are drawn per share.
//
// The replica processes are forked by this process (the CLI, `prefixlab serve`) or started by its parent and
// reached through it (the desktop app, whose utility processes cannot start others): replica-link.ts.
import type { StateDict } from '../methods/method';
import type { TokenBatch } from './batches';
import { forkReplica, type ReplicaLauncher, type ReplicaLink } from './replica-link';
import type { ReplicaRecipe, ToReplica } from './replica-protocol';

export interface ReplicaResult {
  loss: number;
  grads: Float32Array[];
  /** The replica's own time on this share (weights assigned, forward, backward, gradients read back). */
  computeMs: number;
}

/** What the trainer needs of its replicas. */
export interface GradientReplicas {
  /** Replica processes (the leader not counted). */
  readonly size: number;
  /** The highest RSS any replica reported with a step's gradients live (0 before the first step). */
  readonly peakRssBytes: number;
  /**
   * Hands part i to replica i (at most `size` parts) with the current weights, and resolves once every message
   * has been written, so that the replicas work while the leader runs its own part. `results` then resolves
   * with their losses and gradients, in part order, or rejects naming the replica that failed.
   */
  start(work: ReplicaWork): Promise<{ results: Promise<ReplicaResult[]> }>;
  close(): void;
}

/** One micro-batch's shares for the replicas. */
export interface ReplicaWork {
  parts: readonly TokenBatch[];
  /** Target tokens of the whole step (each share's loss is divided by it). */
  targetTokens: number;
  /**
   * The trainable variables' current values, in trainableVariables() order. A replica that was sent these same
   * arrays (by identity) for an earlier micro-batch is not sent them again: the trainer reads them once a step.
   */
  values: Float32Array[];
  /** The leader's adapter random state before this micro-batch (dropout), if it has one. */
  randomState?: number;
  recompute: boolean;
}

export interface ReplicaOptions {
  /** Backend threads per replica (TF_NUM_INTRAOP_THREADS). */
  threads: number;
  /** The adapter's variable shapes, in trainableVariables() order: a replica that built others is refused. */
  shapes: readonly (readonly number[])[];
  /** How long a replica may take to load the model and attach the method. */
  startTimeoutMs?: number;
  /** Replica processes' stderr lines, prefixed. */
  onLog?: (message: string) => void;
  /** How each replica process starts (default: forked from this process). */
  launch?: ReplicaLauncher;
}

/**
 * Dropout draws of replica i start this far along the leader's stream (LoRA's counter of mask draws), so no
 * two shares of a step draw the same masks.
 */
const RANDOM_STREAM_STRIDE = 2 ** 24;
const STDERR_TAIL = 2000;

/** One replica process as the leader sees it (exported for tests, which hand it a stand-in link). */
export class Replica {
  private readonly pending = new Map<number, { resolve: (r: ReplicaResult) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private exitReason: string | null = null;
  /** The weights this replica was last sent (it keeps them assigned until others arrive). */
  private sentValues: Float32Array[] | null = null;
  peakRssBytes = 0;
  readonly ready: Promise<{ variables: { name: string; shape: number[] }[] }>;

  constructor(
    readonly index: number,
    private readonly link: ReplicaLink,
    init: ToReplica,
    startTimeoutMs: number,
    onLog?: (message: string) => void,
  ) {
    link.onStderr((chunk) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL);
      for (const line of chunk.split('\n')) if (line.trim()) onLog?.(`replica ${index}: ${line.trim()}`);
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.failure(`did not start within ${Math.round(startTimeoutMs / 1000)} s`)), startTimeoutMs);
      link.onMessage((message) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve(message);
        } else if (message.type === 'grads') {
          this.peakRssBytes = Math.max(this.peakRssBytes, message.rssBytes);
          this.pending.get(message.id)?.resolve({ loss: message.loss, grads: message.grads, computeMs: message.computeMs });
          this.pending.delete(message.id);
        } else if (message.type === 'error') {
          const error = this.failure(message.message);
          if (message.id === undefined) {
            clearTimeout(timer);
            reject(error);
          } else {
            this.pending.get(message.id)?.reject(error);
            this.pending.delete(message.id);
          }
        }
      });
      link.onExit((how) => {
        clearTimeout(timer);
        this.exitReason = `exited (${how})`;
        const error = this.failure(this.exitReason);
        reject(error);
        for (const { reject: fail } of this.pending.values()) fail(error);
        this.pending.clear();
      });
    });
    this.ready.catch(() => undefined);
    void this.post(init).catch(() => undefined);
  }

  /** Resolves once the message is written to the channel. */
  post(message: ToReplica): Promise<void> {
    if (this.exitReason) return Promise.reject(this.failure(this.exitReason));
    return this.link.send(message).catch((err: Error) => Promise.reject(this.failure(err.message)));
  }

  step(id: number, message: Extract<ToReplica, { type: 'step' }> & { values: Float32Array[] }): { sent: Promise<void>; result: Promise<ReplicaResult> } {
    const result = new Promise<ReplicaResult>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    const unchanged = message.values === this.sentValues;
    this.sentValues = message.values;
    const sent = this.post(unchanged ? { ...message, values: undefined } : message).catch((err: Error) => {
      this.sentValues = null;
      this.pending.get(id)?.reject(err);
      this.pending.delete(id);
    });
    return { sent, result };
  }

  kill(): void {
    this.link.kill();
  }

  private failure(what: string): Error {
    const tail = this.stderr.trim().split('\n').slice(-3).join(' | ');
    return new Error(`data-parallel replica ${this.index + 1} ${what}${tail ? `: ${tail}` : ''}`);
  }
}

/** Starts `count` replica processes of the leader's model and adapter (`state`: its whole state dict) and waits until each is ready. */
export async function startReplicas(count: number, recipe: ReplicaRecipe, state: StateDict, options: ReplicaOptions): Promise<GradientReplicas> {
  const threads = String(Math.max(1, Math.floor(options.threads)));
  const launch = options.launch ?? forkReplica;
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const link = launch(i, { TF_NUM_INTRAOP_THREADS: threads, TF_NUM_INTEROP_THREADS: '1' });
    replicas.push(new Replica(i, link, { type: 'init', recipe, state }, options.startTimeoutMs ?? 10 * 60_000, options.onLog));
  }
  const close = (): void => replicas.forEach((r) => r.kill());
  try {
    for (const replica of replicas) {
      const { variables } = await replica.ready;
      const mismatch = variables.findIndex((v, i) => v.shape.join(',') !== options.shapes[i]?.join(','));
      if (variables.length !== options.shapes.length || mismatch >= 0) {
        throw new Error(
          `data-parallel replica ${replica.index + 1} built other variables than the training process (${variables.length} against ${options.shapes.length}${mismatch >= 0 ? `; ${variables[mismatch].name} is [${variables[mismatch].shape.join(', ')}]` : ''})`,
        );
      }
    }
  } catch (err) {
    close();
    throw err;
  }
  let nextId = 0;
  return {
    size: count,
    get peakRssBytes() {
      return Math.max(0, ...replicas.map((r) => r.peakRssBytes));
    },
    async start({ parts, targetTokens, values, randomState, recompute }) {
      if (parts.length > count) throw new Error(`${parts.length} parts for ${count} replicas`);
      const id = nextId++;
      const steps = parts.map((batch, i) =>
        replicas[i].step(id, {
          type: 'step',
          id,
          values,
          randomState: randomState === undefined ? undefined : randomState + (i + 1) * RANDOM_STREAM_STRIDE,
          batch,
          targetTokens,
          recompute,
        }),
      );
      const results = Promise.all(steps.map((s) => s.result));
      results.catch(() => undefined); // rejections surface where `results` is awaited
      await Promise.all(steps.map((s) => s.sent));
      return { results };
    },
    close,
  };
}
