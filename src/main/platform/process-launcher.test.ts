// The two launchers behind one interface. The Node one is tested for real: it forks an echo child. Electron
// cannot run here, so the Electron one is tested against a fake utilityProcess object: this checks OUR
// mapping (fork options, 'spawn' → pid, postMessage ⇄ send/onMessage, 'exit' code, a fatal error's detail),
// not Electron itself.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { electronLauncher, nodeLauncher, type ExitInfo, type UtilityProcessModule } from './process-launcher';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-launcher-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Echoes every message back with its pid; prints to stdout/stderr; exits with the code it is told. */
const ECHO = `
process.stdout.write('hello on stdout\\n');
process.stderr.write('hello on stderr\\n');
process.on('message', (m) => {
  if (m.type === 'exit') process.exit(m.code);
  process.send({ echo: m, pid: process.pid, env: process.env.LAUNCH_TEST });
});
process.send({ type: 'ready' });
`;

/** Everything a stream carries, once it ends ('exit' may come before the pipes are drained). */
function collect(stream: NodeJS.ReadableStream | null): () => Promise<string> {
  let text = '';
  stream?.on('data', (chunk) => (text += String(chunk)));
  const ended = new Promise<void>((resolve) => (stream ? stream.on('end', () => resolve()) : resolve()));
  return async () => {
    await ended;
    return text;
  };
}

describe('nodeLauncher (child_process.fork)', () => {
  it('starts the child with IPC and piped output; send, onMessage, onSpawn, onExit', async () => {
    const file = join(dir, 'echo.cjs');
    writeFileSync(file, ECHO);
    const child = nodeLauncher.launch(file, { env: { ...process.env, LAUNCH_TEST: 'yes' } });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const spawned = new Promise<number>((resolve) => child.onSpawn(resolve));
    const messages: unknown[] = [];
    const exited = new Promise<ExitInfo>((resolve) => child.onExit(resolve));
    const ready = new Promise<void>((resolve) =>
      child.onMessage((m) => {
        messages.push(m);
        if ((m as { type?: string }).type === 'ready') resolve();
      }),
    );
    expect(await spawned).toBe(child.pid);
    await ready;
    const echoed = new Promise<void>((resolve) => child.onMessage(() => resolve()));
    expect(child.send({ type: 'ping', n: 1 })).toBe(true);
    await echoed;
    expect(messages[1]).toEqual({ echo: { type: 'ping', n: 1 }, pid: child.pid, env: 'yes' });
    child.send({ type: 'exit', code: 3 });
    expect(await exited).toEqual({ code: 3, signal: null });
    expect(await stdout()).toBe('hello on stdout\n');
    expect(await stderr()).toBe('hello on stderr\n');
    // The child is gone: sending is refused, not thrown.
    expect(child.send({ type: 'late' })).toBe(false);
    await expect(child.deliver({ type: 'late' })).rejects.toThrow('has exited');
  });

  it('deliver resolves once the message is on its way; typed arrays cross as bytes with advanced serialization', async () => {
    const file = join(dir, 'echo-deliver.cjs');
    writeFileSync(file, ECHO);
    const child = nodeLauncher.launch(file, { serialization: 'advanced' });
    await new Promise<void>((resolve) => child.onMessage(() => resolve()));
    const echoed = new Promise<unknown>((resolve) => child.onMessage(resolve));
    await child.deliver({ type: 'grads', values: new Float32Array([1.5, -2]) });
    expect(((await echoed) as { echo: { values: unknown } }).echo.values).toEqual(new Float32Array([1.5, -2]));
    const exited = new Promise<ExitInfo>((resolve) => child.onExit(resolve));
    child.kill();
    await exited;
    await expect(child.deliver({ type: 'late' })).rejects.toThrow('has exited');
  });

  it('kill ends the child and reports the signal', async () => {
    const file = join(dir, 'echo-kill.cjs');
    writeFileSync(file, ECHO);
    const child = nodeLauncher.launch(file);
    await new Promise<void>((resolve) => child.onMessage(() => resolve()));
    const exited = new Promise<ExitInfo>((resolve) => child.onExit(resolve));
    child.kill();
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('a missing entry file ends with an exit code, never a hang', async () => {
    const missing = nodeLauncher.launch(join(dir, 'no-such-file.cjs'));
    const stderr = collect(missing.stderr);
    expect((await new Promise<ExitInfo>((resolve) => missing.onExit(resolve))).code).toBe(1);
    expect(await stderr()).toMatch(/Cannot find module/);
  }, 20_000);
});

/** A stand-in for Electron's UtilityProcess: an EventEmitter with pid, stdout/stderr, postMessage and kill. */
class FakeUtilityProcess extends EventEmitter {
  pid: number | undefined = undefined;
  stdout = new PassThrough();
  stderr = new PassThrough();
  posted: unknown[] = [];
  killed = false;
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  kill(): boolean {
    this.killed = true;
    return true;
  }
}

function fakeElectron(): { module: UtilityProcessModule; forks: { modulePath: string; args?: string[]; options?: object; child: FakeUtilityProcess }[] } {
  const forks: { modulePath: string; args?: string[]; options?: object; child: FakeUtilityProcess }[] = [];
  return {
    forks,
    module: {
      fork(modulePath, args, options) {
        const child = new FakeUtilityProcess();
        forks.push({ modulePath, args, options, child });
        return child;
      },
    },
  };
}

describe('electronLauncher (utilityProcess.fork), against a fake utilityProcess', () => {
  it('forks with piped stdout/stderr, the env, execArgv and a service name', () => {
    const electron = fakeElectron();
    const launcher = electronLauncher(electron.module);
    expect(launcher.kind).toBe('electron');
    launcher.launch('/app/out/main/train-worker.js', { env: { A: '1' }, execArgv: ['--x'], serviceName: 'PrefixLab training' });
    expect(electron.forks).toHaveLength(1);
    expect(electron.forks[0]).toMatchObject({
      modulePath: '/app/out/main/train-worker.js',
      args: [],
      options: { env: { A: '1' }, execArgv: ['--x'], stdio: ['ignore', 'pipe', 'pipe'], serviceName: 'PrefixLab training' },
    });
  });

  it('maps spawn → pid, postMessage ⇄ send/onMessage, exit code, a fatal error, and kill', () => {
    const electron = fakeElectron();
    const child = electronLauncher(electron.module).launch('/w.js');
    const fake = electron.forks[0].child;
    expect(child.stdout).toBe(fake.stdout);
    expect(child.stderr).toBe(fake.stderr);

    const spawns: number[] = [];
    child.onSpawn((pid) => spawns.push(pid));
    expect(child.pid).toBeUndefined();
    fake.pid = 4321;
    fake.emit('spawn');
    expect(spawns).toEqual([4321]);
    expect(child.pid).toBe(4321);

    const received: unknown[] = [];
    child.onMessage((m) => received.push(m));
    // utilityProcess's 'message' hands over the message itself (the child's parentPort.postMessage(m)).
    fake.emit('message', { type: 'ready' });
    expect(received).toEqual([{ type: 'ready' }]);
    expect(child.send({ type: 'start', spec: { runId: 'r' } })).toBe(true);
    expect(fake.posted).toEqual([{ type: 'start', spec: { runId: 'r' } }]);

    const exits: ExitInfo[] = [];
    child.onExit((info) => exits.push(info));
    fake.emit('error', 'FatalError', 'v8::Isolate::Out of memory', '{}');
    fake.emit('exit', 134);
    expect(exits).toEqual([{ code: 134, signal: null, detail: 'FatalError at v8::Isolate::Out of memory' }]);
    // After exit nothing more is posted.
    expect(child.send({ type: 'cancel' })).toBe(false);
    expect(fake.posted).toHaveLength(1);

    child.kill();
    expect(fake.killed).toBe(true);
  });

  it('deliver posts and resolves; after exit, or when postMessage throws, it rejects with the cause', async () => {
    const electron = fakeElectron();
    const child = electronLauncher(electron.module).launch('/w.js');
    const fake = electron.forks[0].child;
    await child.deliver({ type: 'step', id: 1 });
    expect(fake.posted).toEqual([{ type: 'step', id: 1 }]);
    fake.postMessage = () => {
      throw new Error('could not be cloned');
    };
    await expect(child.deliver({ type: 'step', id: 2 })).rejects.toThrow('could not be sent a message: could not be cloned');
    fake.emit('exit', 0);
    await expect(child.deliver({ type: 'step', id: 3 })).rejects.toThrow('has exited');
  });
});
