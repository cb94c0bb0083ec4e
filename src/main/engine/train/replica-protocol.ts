// Messages between a training process and its data-parallel replicas (replicas.ts, replica-worker.ts). They
// travel over Node's IPC channel with 'advanced' serialization, so typed arrays cross as bytes, not JSON.
import type { BackendName } from '../backend';
import type { LoadOptions } from '../io/load-model';
import type { StateDict } from '../methods/method';
import type { TokenBatch } from './batches';

/** How a replica builds the same model and adapter as the process it helps. */
export interface ReplicaRecipe {
  /** A model file or folder (loaded as the run loads it), or a random model from its config and seed (benchmarks, tests). */
  model: { path: string; load: LoadOptions } | { config: Record<string, unknown>; seed: number };
  method: string;
  methodOptions: Record<string, unknown>;
  /** The adapter's seed (its initial values are replaced by the leader's state anyway). */
  seed: number;
  backend: BackendName;
}

/** Leader → replica. `state`: the adapter's whole state dict (buffers such as PT+'s μ included). */
export type ToReplica =
  | { type: 'init'; recipe: ReplicaRecipe; state: StateDict }
  | {
      type: 'step';
      id: number;
      /**
       * The trainable variables' current values, in trainableVariables() order; absent: unchanged since the last
       * step message (the step's later micro-batches, which share its weights).
       */
      values?: Float32Array[];
      randomState?: number;
      batch: TokenBatch;
      targetTokens: number;
      recompute: boolean;
    };

/** Replica → leader. */
export type FromReplica =
  | { type: 'ready'; backend: BackendName; variables: { name: string; shape: number[] }[] }
  | {
      type: 'grads';
      id: number;
      loss: number;
      grads: Float32Array[];
      /** The replica's RSS with this step's gradients live. */
      rssBytes: number;
      /** From the step message's arrival to its gradients read back (what the replica itself spent). */
      computeMs: number;
    }
  | { type: 'error'; id?: number; message: string };
