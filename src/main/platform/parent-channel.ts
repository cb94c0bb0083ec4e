// The channel a child process talks to its parent through: Node's IPC channel (child_process.fork) or
// Electron's parentPort (utilityProcess.fork). The training process, the model worker and data-parallel
// replicas all use it, so each runs the same under the CLI and in the desktop app.

/** Electron's `process.parentPort` in a utility process (only what we use). */
export interface ElectronParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

/** The process object the channel is built on (`process`, or a fake in tests). */
export interface WorkerProcessLike {
  send?: (message: unknown, sendHandle: undefined, options: object, callback: (error: Error | null) => void) => boolean;
  connected?: boolean;
  parentPort?: ElectronParentPort;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}

export interface ParentChannel<Out, In> {
  readonly kind: 'node-ipc' | 'electron-port';
  /** Resolves once the message is handed to the channel (at once when there is no parent any more). */
  send(message: Out): Promise<void>;
  onMessage(listener: (message: In) => void): void;
  /** The parent went away (Node IPC: the channel closed). A utility process has no such event: Electron ends it with the app. */
  onDisconnect(listener: () => void): void;
  /** Resolves when the process may exit without losing the last message it sent. */
  drained(): Promise<void>;
}

/** How long a utility process waits for the parent's 'done' before exiting anyway. */
export const DONE_TIMEOUT_MS = 5_000;

/**
 * The channel to the parent: Electron's parentPort when run by utilityProcess.fork, else Node's IPC channel
 * (child_process.fork). Null when the process has neither (started by hand).
 */
export function parentChannel<Out, In>(proc: WorkerProcessLike = process as unknown as WorkerProcessLike): ParentChannel<Out, In> | null {
  const port = proc.parentPort;
  if (port) {
    // postMessage has no delivery callback, so before exiting the process waits for the parent's 'done'.
    let isDone = false;
    const doneWaiters: (() => void)[] = [];
    const listeners: ((message: In) => void)[] = [];
    port.on('message', (event) => {
      const message = event?.data as In | undefined;
      if (!message || typeof message !== 'object') return;
      if ((message as { type?: unknown }).type === 'done') {
        isDone = true;
        for (const wake of doneWaiters.splice(0)) wake();
      }
      for (const listener of listeners) listener(message);
    });
    return {
      kind: 'electron-port',
      send: async (message) => port.postMessage(message),
      onMessage: (listener) => void listeners.push(listener),
      onDisconnect: () => {},
      drained: () =>
        isDone
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, DONE_TIMEOUT_MS);
              doneWaiters.push(() => {
                clearTimeout(timer);
                resolve();
              });
            }),
    };
  }
  if (!proc.send) return null;
  const send = proc.send.bind(proc);
  return {
    kind: 'node-ipc',
    send: (message) =>
      new Promise((resolve) => {
        if (!proc.connected) return resolve();
        // The callback runs once the message is written to the channel (or failed: the parent is gone).
        send(message, undefined, {}, () => resolve());
      }),
    onMessage: (listener) => void proc.on('message', (raw) => listener(raw as In)),
    onDisconnect: (listener) => void proc.on('disconnect', listener),
    drained: () => Promise.resolve(),
  };
}
