// How a training process reaches one of its data-parallel replicas. Two ways, one interface: it forks the
// replica itself (the CLI and `prefixlab serve`: Node's child_process.fork), or it asks its parent to start the
// replica and relay the messages (the desktop app: an Electron utility process cannot start processes, but the
// main process can; services/training/replica-relay.ts).
import { fork } from 'node:child_process';
import { entryFile, type EntryFile } from '../../platform/entry-file';
import type { FromReplica, ToReplica } from './replica-protocol';

/** One replica process as the training process sees it. */
export interface ReplicaLink {
  /** Resolves once the message is handed to the channel; rejects (with the cause) when it cannot be. */
  send(message: ToReplica): Promise<void>;
  onMessage(listener: (message: FromReplica) => void): void;
  /** Chunks of the replica's stderr. */
  onStderr(listener: (text: string) => void): void;
  /** Once, when the process has ended: how ("code 1", "SIGKILL"). */
  onExit(listener: (how: string) => void): void;
  kill(): void;
}

/** Starts replica `index` with these extra environment variables (its thread counts). */
export type ReplicaLauncher = (index: number, env: Record<string, string>) => ReplicaLink;

/**
 * Where a replica process's entry is: `out/main/replica-worker.js` beside the bundle (electron-vite), else
 * replica-worker.ts through tsx. PREFIXLAB_REPLICA_WORKER overrides the file.
 */
export function replicaWorkerEntry(): EntryFile {
  return entryFile(import.meta.url, 'replica-worker.js', 'replica-worker.ts', process.env.PREFIXLAB_REPLICA_WORKER);
}

/** Forks the replica from this process, with 'advanced' serialization so typed arrays cross as bytes. */
export const forkReplica: ReplicaLauncher = (_index, env) => {
  const entry = replicaWorkerEntry();
  const child = fork(entry.file, [], {
    execArgv: entry.execArgv,
    env: { ...process.env, ...entry.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let exited: string | null = null;
  child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
  return {
    send: (message) =>
      new Promise((resolve, reject) => {
        if (exited || !child.connected) return reject(new Error(exited ? `exited (${exited})` : 'is not connected'));
        child.send(message, (err) => (err ? reject(new Error(`could not be sent a message: ${err.message}`)) : resolve()));
      }),
    onMessage: (listener) => void child.on('message', (message) => listener(message as FromReplica)),
    onStderr: (listener) => {
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => listener(chunk));
    },
    onExit: (listener) => void child.once('exit', (code, signal) => listener(signal ?? `code ${code}`)),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
};
