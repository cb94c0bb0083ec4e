// How a training process reaches one of its data-parallel replicas. Two ways, one interface: it forks the
// replica itself (the CLI and `prefixlab serve`: Node's child_process.fork), or it asks its parent to start the
// replica and relay the messages (the desktop app: an Electron utility process cannot start processes, but the
// main process can; services/training/replica-relay.ts).
import { entryFile, type EntryFile } from '../../platform/entry-file';
import { nodeLauncher, type LaunchedProcess, type ProcessLauncher } from '../../platform/process-launcher';
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
function replicaWorkerEntry(): EntryFile {
  return entryFile(import.meta.url, 'replica-worker.js', 'replica-worker.ts', process.env.PREFIXLAB_REPLICA_WORKER);
}

/**
 * A replica process seen through its link: messages, stderr, and how it ended ("code 1", "SIGKILL", with
 * Electron's fatal-error detail where there is one). Its stdout (tfjs banners) is drained so a full pipe never
 * stalls it.
 */
function replicaLinkOver(child: LaunchedProcess): ReplicaLink {
  child.stdout?.on('data', () => {});
  let exited: string | null = null;
  const exitListeners: ((how: string) => void)[] = [];
  child.onExit(({ code, signal, detail }) => {
    exited = `${signal ?? `code ${code}`}${detail ? `, ${detail}` : ''}`;
    for (const listener of exitListeners) listener(exited);
  });
  return {
    send: (message) => (exited ? Promise.reject(new Error(`exited (${exited})`)) : child.deliver(message)),
    onMessage: (listener) => child.onMessage((message) => listener(message as FromReplica)),
    onStderr: (listener) => {
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => listener(chunk));
    },
    onExit: (listener) => {
      if (exited) listener(exited);
      else exitListeners.push(listener);
    },
    kill: () => {
      if (!exited) child.kill();
    },
  };
}

/**
 * Starts a replica process with `launcher` ('advanced' serialization, so typed arrays cross as bytes; Electron's
 * channel is structured clone anyway): this process forking its own, or the app's main process starting one for
 * the training process (services/training/replica-relay.ts). `env` adds to this process's environment.
 */
export function launchReplica(launcher: ProcessLauncher, env: Record<string, string>): ReplicaLink {
  const entry = replicaWorkerEntry();
  const child = launcher.launch(entry.file, {
    execArgv: entry.execArgv,
    env: { ...process.env, ...entry.env, ...env },
    serviceName: 'PrefixLab replica',
    serialization: 'advanced',
  });
  return replicaLinkOver(child);
}

/** Forks the replica from this process. */
export const forkReplica: ReplicaLauncher = (_index, env) => launchReplica(nodeLauncher, env);
