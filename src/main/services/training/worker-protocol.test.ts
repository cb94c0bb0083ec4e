// The training process's side of the channel: Node IPC (process.send / 'message' / 'disconnect') or Electron's
// parentPort (postMessage / 'message' events carrying {data}). Fake process objects stand in for both, so
// this checks our mapping; the Node path also runs for real in tests/unit/parent-kill.test.ts.
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DONE_TIMEOUT_MS, parentChannel, type ParentMessage, type WorkerProcessLike } from './worker-protocol';

afterEach(() => vi.useRealTimers());

function fakeNodeProcess(): WorkerProcessLike & { sent: unknown[]; emit: EventEmitter['emit'] } {
  const emitter = new EventEmitter();
  const sent: unknown[] = [];
  return Object.assign(emitter, {
    sent,
    connected: true,
    send(message: unknown, _handle: undefined, _options: object, callback: (error: Error | null) => void) {
      sent.push(message);
      setImmediate(() => callback(null));
      return true;
    },
  }) as unknown as WorkerProcessLike & { sent: unknown[]; emit: EventEmitter['emit'] };
}

function fakeUtilityProcess(): { proc: WorkerProcessLike; posted: unknown[]; deliver: (message: unknown) => void } {
  const port = new EventEmitter();
  const posted: unknown[] = [];
  const proc = Object.assign(new EventEmitter(), {
    parentPort: Object.assign(port, { postMessage: (m: unknown) => void posted.push(m) }),
  }) as unknown as WorkerProcessLike;
  // Electron delivers a MessageEvent-like object: the message is in .data.
  return { proc, posted, deliver: (message) => port.emit('message', { data: message, ports: [] }) };
}

describe('parentChannel', () => {
  it('is null for a process started by hand (no IPC, no parentPort)', () => {
    expect(parentChannel(Object.assign(new EventEmitter(), {}) as unknown as WorkerProcessLike)).toBeNull();
  });

  it('Node IPC: send resolves once written, messages and disconnect map through, nothing sent after disconnect', async () => {
    const proc = fakeNodeProcess();
    const channel = parentChannel(proc)!;
    expect(channel.kind).toBe('node-ipc');
    const got: ParentMessage[] = [];
    channel.onMessage((m) => got.push(m));
    let isGone = false;
    channel.onDisconnect(() => (isGone = true));
    await channel.send({ type: 'ready' });
    expect(proc.sent).toEqual([{ type: 'ready' }]);
    proc.emit('message', { type: 'cancel' });
    expect(got).toEqual([{ type: 'cancel' }]);
    (proc as { connected: boolean }).connected = false;
    proc.emit('disconnect');
    expect(isGone).toBe(true);
    await channel.send({ type: 'log', message: 'late' });
    expect(proc.sent).toHaveLength(1);
    await expect(channel.drained()).resolves.toBeUndefined();
  });

  it("Electron parentPort: postMessage out, {data} in, and exit waits for the parent's 'done'", async () => {
    const { proc, posted, deliver } = fakeUtilityProcess();
    const channel = parentChannel(proc)!;
    expect(channel.kind).toBe('electron-port');
    const got: ParentMessage[] = [];
    channel.onMessage((m) => got.push(m));
    await channel.send({ type: 'ready' });
    expect(posted).toEqual([{ type: 'ready' }]);
    deliver({ type: 'start', spec: { runId: 'r' } });
    deliver(null);
    expect(got).toEqual([{ type: 'start', spec: { runId: 'r' } }]);

    let isDrained = false;
    const drained = channel.drained().then(() => (isDrained = true));
    await new Promise((r) => setImmediate(r));
    expect(isDrained).toBe(false);
    deliver({ type: 'done' });
    await drained;
    expect(isDrained).toBe(true);
    await expect(channel.drained()).resolves.toBeUndefined();
  });

  it("Electron parentPort: without a 'done' the process still exits after the timeout", async () => {
    vi.useFakeTimers();
    const { proc } = fakeUtilityProcess();
    const channel = parentChannel(proc)!;
    let isDrained = false;
    const drained = channel.drained().then(() => (isDrained = true));
    await vi.advanceTimersByTimeAsync(DONE_TIMEOUT_MS - 1);
    expect(isDrained).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await drained;
    expect(isDrained).toBe(true);
  });
});
