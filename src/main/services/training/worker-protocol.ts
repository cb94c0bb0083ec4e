// Messages between the app and the training process (worker.ts), the channel the training process talks to
// its parent through (platform/parent-channel.ts, typed for these messages), and where that process's entry file is.
import type { TrainProgress, TrainResult } from '@shared/contract/training';
import type { ApiErrorData } from '@shared/errors';
import type { TrainJobSpec } from '../../engine/train/job';
import type { FromReplica, ToReplica } from '../../engine/train/replica-protocol';
import { entryFile, type EntryFile } from '../../platform/entry-file';
import { parentChannel as genericParentChannel, type ParentChannel, type WorkerProcessLike } from '../../platform/parent-channel';

export { DONE_TIMEOUT_MS, type ElectronParentPort, type ParentChannel, type WorkerProcessLike } from '../../platform/parent-channel';

/**
 * Parent → training process. 'done': the parent has the last message, the process may exit. 'replica-*': what a
 * replica the parent started for it said, wrote to stderr, or how it ended (replica-relay.ts).
 */
export type ParentMessage =
  | { type: 'start'; spec: TrainJobSpec }
  | { type: 'cancel' }
  | { type: 'done' }
  | { type: 'replica-message'; id: number; message: FromReplica }
  | { type: 'replica-stderr'; id: number; text: string }
  | { type: 'replica-exit'; id: number; how: string };

/**
 * Training process → parent. 'replica-*': start a data-parallel replica process (with these environment
 * variables), hand it a message, or end it; the desktop app's training process cannot start processes itself.
 */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'started'; runId: string; runDir: string; totalSteps: number }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'log'; message: string }
  | { type: 'result'; result: TrainResult }
  | { type: 'error'; error: ApiErrorData }
  | { type: 'replica-start'; id: number; env: Record<string, string> }
  | { type: 'replica-message'; id: number; message: ToReplica }
  | { type: 'replica-kill'; id: number };

/**
 * How to start the training process: the bundled `train-worker.js` beside this module's bundle (the
 * electron-vite main build must list src/main/services/training/worker.ts as entry `train-worker`), else —
 * running from source (vitest, tsx) — worker.ts through tsx's loader with the repo's path aliases.
 * PREFIXLAB_TRAIN_WORKER overrides the file.
 */
export function workerEntry(): EntryFile {
  return entryFile(import.meta.url, 'train-worker.js', 'worker.ts', process.env.PREFIXLAB_TRAIN_WORKER);
}

// ---- the training process's side of the channel ----

/** The training process's channel to the app, or null when it was started by hand. */
export function parentChannel<Out = WorkerMessage, In = ParentMessage>(proc?: WorkerProcessLike): ParentChannel<Out, In> | null {
  return genericParentChannel<Out, In>(proc);
}
