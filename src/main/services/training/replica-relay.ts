// Data-parallel replicas started by the training process's parent. In the desktop app the training process is an
// Electron utility process, which cannot start processes of its own; the app's main process can. So the training
// process asks its parent (replicasThroughParent), and the parent starts each replica with the same launcher it
// started the training process with and passes the messages both ways (relayReplicas). Each step's weights and
// gradients then cross twice (training process → main → replica and back): for the PEFT methods, whose trainable
// weights are small, that costs a few milliseconds a step; full fine-tuning never has replicas.
//
// Under Node (the CLI, `prefixlab serve`) the training process forks its replicas itself; setting
// PREFIXLAB_REPLICAS_THROUGH_PARENT=1 takes the app's way instead (tests run it for real that way).
import type { ReplicaLauncher, ReplicaLink } from '../../engine/train/replica-link';
import { launchReplica } from '../../engine/train/replica-link';
import type { FromReplica } from '../../engine/train/replica-protocol';
import { trainingAllocatorEnv } from '../../platform/allocator-env';
import type { LaunchedProcess, ProcessLauncher } from '../../platform/process-launcher';
import type { ParentChannel, ParentMessage, WorkerMessage } from './worker-protocol';

/** Whether the training process should have its parent start its replicas. */
export function startsReplicasThroughParent(channel: Pick<ParentChannel<WorkerMessage, ParentMessage>, 'kind'>, env: NodeJS.ProcessEnv = process.env): boolean {
  return channel.kind === 'electron-port' || env.PREFIXLAB_REPLICAS_THROUGH_PARENT === '1';
}

// ---- the training process's side ----

/** A launcher whose replicas the parent starts and talks to for this process (over `channel`). */
export function replicasThroughParent(channel: ParentChannel<WorkerMessage, ParentMessage>): ReplicaLauncher {
  interface Listeners {
    message: ((message: FromReplica) => void)[];
    stderr: ((text: string) => void)[];
    exit: ((how: string) => void)[];
  }
  const live = new Map<number, Listeners>();
  channel.onMessage((message) => {
    if (message.type !== 'replica-message' && message.type !== 'replica-stderr' && message.type !== 'replica-exit') return;
    const listeners = live.get(message.id);
    if (!listeners) return;
    if (message.type === 'replica-message') listeners.message.forEach((l) => l(message.message));
    else if (message.type === 'replica-stderr') listeners.stderr.forEach((l) => l(message.text));
    else {
      live.delete(message.id);
      listeners.exit.forEach((l) => l(message.how));
    }
  });
  let nextId = 0;
  return (_index, env): ReplicaLink => {
    const id = nextId++;
    const listeners: Listeners = { message: [], stderr: [], exit: [] };
    live.set(id, listeners);
    void channel.send({ type: 'replica-start', id, env });
    return {
      send: (message) => (live.has(id) ? channel.send({ type: 'replica-message', id, message }) : Promise.reject(new Error('has exited'))),
      onMessage: (listener) => void listeners.message.push(listener),
      onStderr: (listener) => void listeners.stderr.push(listener),
      onExit: (listener) => void listeners.exit.push(listener),
      kill: () => {
        if (live.has(id)) void channel.send({ type: 'replica-kill', id });
      },
    };
  };
}

// ---- the parent's side ----

export interface ReplicaRelay {
  /** Handles a training-process message if it is about replicas; false for every other message. */
  handle(message: WorkerMessage): boolean;
  /** Ends every replica still running (the training process ended). */
  close(): void;
}

/** Starts and relays the replicas `training` asks for, with `launcher` (the one that started `training`). */
export function relayReplicas(training: Pick<LaunchedProcess, 'send'>, launcher: ProcessLauncher): ReplicaRelay {
  const replicas = new Map<number, ReplicaLink>();
  const tell = (message: ParentMessage): void => void training.send(message);
  return {
    handle(message) {
      if (message.type === 'replica-start') {
        const { id } = message;
        let replica: ReplicaLink;
        try {
          replica = launchReplica(launcher, { ...trainingAllocatorEnv(), ...message.env });
        } catch (err) {
          // This runs in the app's message handler: a launcher that throws must not take the app down.
          tell({ type: 'replica-exit', id, how: `could not start: ${err instanceof Error ? err.message : String(err)}` });
          return true;
        }
        replicas.set(id, replica);
        replica.onStderr((text) => tell({ type: 'replica-stderr', id, text }));
        replica.onMessage((m) => tell({ type: 'replica-message', id, message: m }));
        replica.onExit((how) => {
          replicas.delete(id);
          tell({ type: 'replica-exit', id, how });
        });
        return true;
      }
      if (message.type === 'replica-message') {
        // A message that cannot reach its replica would leave the training process waiting for an answer: end the
        // replica instead, whose exit the training process hears and fails the step with.
        const replica = replicas.get(message.id);
        replica?.send(message.message).catch(() => replica.kill());
        return true;
      }
      if (message.type === 'replica-kill') {
        replicas.get(message.id)?.kill();
        return true;
      }
      return false;
    },
    close() {
      for (const replica of replicas.values()) replica.kill();
      replicas.clear();
    },
  };
}
