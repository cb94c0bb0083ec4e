// How the app starts a child process that talks back by messages (the training process). Two ways, one
// interface: Node's child_process.fork (the CLI and `prefixlab serve`), and Electron's utilityProcess.fork
// for the desktop app — with the RunAsNode fuse off, child_process.fork from Electron's main process no
// longer starts a Node process (Electron's docs point to utilityProcess instead). The shell picks one
// (src/main/index.ts passes Electron's utilityProcess in; nothing here imports 'electron').
import { fork } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface LaunchOptions {
  /** Node flags for the child (e.g. tsx's loader when running from source). */
  execArgv?: string[];
  /** The child's whole environment. */
  env?: NodeJS.ProcessEnv;
  /** A name for the process (Electron shows it in its process metrics). */
  serviceName?: string;
  /**
   * Node: how messages are encoded; 'advanced' (structured clone) keeps typed arrays as bytes, where 'json'
   * (Node's default) turns them into objects. Electron always uses structured clone.
   */
  serialization?: 'json' | 'advanced';
}

export interface ExitInfo {
  code: number | null;
  /** Node only: the signal that ended the child. Electron reports a code alone. */
  signal: NodeJS.Signals | null;
  /** Electron only: the fatal V8 error that ended it ("FatalError at …"), when there was one. */
  detail?: string;
}

/** A started child. Its stdout and stderr are always piped, never inherited (our stdout may carry --json). */
export interface LaunchedProcess {
  /** Undefined until the process has started (Electron assigns it on 'spawn'). */
  readonly pid: number | undefined;
  readonly stdout: Readable | NodeJS.ReadableStream | null;
  readonly stderr: Readable | NodeJS.ReadableStream | null;
  /** Sends a message; false when the child is gone (never throws). */
  send(message: unknown): boolean;
  /**
   * Sends a message and says when it has left: resolves once it is handed to the channel (Node: written to the
   * pipe; Electron: posted), rejects with the cause when it cannot be (the child is gone, the channel failed).
   * For a sender that must know its message is on the way before it goes on (a data-parallel step's share).
   */
  deliver(message: unknown): Promise<void>;
  onSpawn(listener: (pid: number) => void): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Once, after the process ended (also after a failed start, with code null). */
  onExit(listener: (info: ExitInfo) => void): void;
  /** The process could not be started (Node; Electron reports a failed start through onExit). */
  onError(listener: (error: Error) => void): void;
  /** Node: the signal to send (default SIGTERM); Electron ends the process its own way. */
  kill(signal?: NodeJS.Signals): void;
  /** Lets our process exit while the child idles (Node; a utility process ends with the app anyway). */
  unref(): void;
}

export interface ProcessLauncher {
  readonly kind: 'node' | 'electron';
  launch(entryFile: string, options?: LaunchOptions): LaunchedProcess;
}

// ---- Node: child_process.fork ----

export const nodeLauncher: ProcessLauncher = {
  kind: 'node',
  launch(entryFile, options = {}) {
    const child = fork(entryFile, [], {
      execArgv: options.execArgv ?? [],
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: options.serialization ?? 'json',
    });
    let hasExited = false;
    const exitListeners: ((info: ExitInfo) => void)[] = [];
    const exited = (info: ExitInfo): void => {
      if (hasExited) return;
      hasExited = true;
      for (const listener of exitListeners) listener(info);
    };
    child.once('exit', (code, signal) => exited({ code, signal }));
    // A failed start (ENOENT, EACCES) emits 'error' and no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) exited({ code: null, signal: null });
    });
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      send(message) {
        if (!child.connected) return false;
        try {
          // The callback swallows a send that fails because the child just exited.
          return child.send(message as never, () => {});
        } catch {
          return false;
        }
      },
      deliver: (message) =>
        new Promise((resolve, reject) => {
          if (hasExited || !child.connected) return reject(new Error(hasExited ? 'has exited' : 'is not connected'));
          try {
            child.send(message as never, (err) => (err ? reject(notSent(err)) : resolve()));
          } catch (err) {
            reject(notSent(err));
          }
        }),
      onSpawn: (listener) => void child.once('spawn', () => child.pid !== undefined && listener(child.pid)),
      onMessage: (listener) => void child.on('message', (message) => listener(message)),
      onExit: (listener) => void exitListeners.push(listener),
      onError: (listener) => void child.on('error', listener),
      kill: (signal) => void child.kill(signal),
      unref: () => {
        child.unref();
        child.channel?.unref();
      },
    };
  },
};

// ---- Electron: utilityProcess.fork ----

/** The part of Electron's UtilityProcess we use (typed here so this file needs no 'electron' import). */
export interface UtilityProcessLike {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'spawn', listener: () => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'error', listener: (type: string, location: string, report: string) => void): unknown;
}

/** Electron's `utilityProcess` module (only fork). */
export interface UtilityProcessModule {
  fork(
    modulePath: string,
    args?: string[],
    options?: { env?: NodeJS.ProcessEnv; execArgv?: string[]; stdio?: ('pipe' | 'ignore' | 'inherit')[]; serviceName?: string },
  ): UtilityProcessLike;
}

/**
 * A launcher over Electron's utilityProcess (pass `utilityProcess` from 'electron'). The child gets
 * `process.parentPort` instead of `process.send`: worker-protocol.ts's parentChannel handles both.
 */
export function electronLauncher(utilityProcess: UtilityProcessModule): ProcessLauncher {
  return {
    kind: 'electron',
    launch(entryFile, options = {}) {
      const child = utilityProcess.fork(entryFile, [], {
        env: options.env ?? process.env,
        execArgv: options.execArgv ?? [],
        // stdin can only be 'ignore' for a utility process.
        stdio: ['ignore', 'pipe', 'pipe'],
        serviceName: options.serviceName,
      });
      let hasExited = false;
      let fatal: string | undefined;
      child.on('exit', () => {
        hasExited = true;
      });
      // A fatal V8 error is always followed by 'exit': it is reported there.
      child.on('error', (type, location) => {
        fatal = `${type} at ${location}`;
      });
      return {
        get pid() {
          return child.pid;
        },
        get stdout() {
          return child.stdout;
        },
        get stderr() {
          return child.stderr;
        },
        send(message) {
          if (hasExited) return false;
          try {
            child.postMessage(message);
            return true;
          } catch {
            return false;
          }
        },
        // postMessage copies the message (structured clone) before it returns: posted is on its way.
        deliver: async (message) => {
          if (hasExited) throw new Error('has exited');
          try {
            child.postMessage(message);
          } catch (err) {
            throw notSent(err);
          }
        },
        onSpawn: (listener) => void child.on('spawn', () => child.pid !== undefined && listener(child.pid)),
        onMessage: (listener) => void child.on('message', (message) => listener(message)),
        onExit: (listener) => void child.on('exit', (code) => listener({ code, signal: null, ...(fatal ? { detail: fatal } : {}) })),
        onError: () => {},
        kill: () => void child.kill(),
        unref: () => {},
      };
    },
  };
}

/** The error deliver() rejects with when the channel refuses a message. */
function notSent(cause: unknown): Error {
  return new Error(`could not be sent a message: ${cause instanceof Error ? cause.message : String(cause)}`);
}
