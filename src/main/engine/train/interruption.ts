// Why a run's abort signal fired. A person's cancel (Ctrl-C, the Cancel button) ends a run 'cancelled'; the
// app that started the training process going away (killed, crashed: its IPC channel closed) ends it
// 'interrupted' — the run was not given up, and resumes like any interrupted run.

/** The abort reason the training process uses when its parent is gone. */
export class RunInterrupted extends Error {
  constructor(message = 'the app that started the training process went away') {
    super(message);
    this.name = 'RunInterrupted';
  }
}

export function isRunInterrupted(reason: unknown): reason is RunInterrupted {
  return reason instanceof RunInterrupted;
}
