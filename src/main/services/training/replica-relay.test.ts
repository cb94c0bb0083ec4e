// Replicas started by the training process's parent (the desktop app's way: its training process is an Electron
// utility process, which cannot start processes). Run for real under Node: PREFIXLAB_REPLICAS_THROUGH_PARENT=1 has
// the training process ask this test process, which starts the replica through the launcher it started the
// training process with and relays the messages; the run's losses are the one-process run's. The two halves of
// the relay are also wired back to back with stand-ins, for what a real run does not reach (a replica that exits).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dataParallelJobFlags, jobSpecFromFlags, type JobFlags } from '../../cli/testing/requests-from-flags';
import type { ToReplica } from '../../engine/train/replica-protocol';
import { hasStoriesHf, writeWeatherData } from '../../engine/train/test-fixtures';
import type { ExitInfo, LaunchedProcess, LaunchOptions, ProcessLauncher } from '../../platform/process-launcher';
import { nodeLauncher } from '../../platform/process-launcher';
import { relayReplicas, replicasThroughParent, startsReplicasThroughParent } from './replica-relay';
import { runInChildProcess } from './run-process';
import type { ParentChannel, ParentMessage, WorkerMessage } from './worker-protocol';

let home: string;
let data: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'prefixlab-relay-'));
  data = join(home, 'weather.jsonl');
  writeWeatherData(data);
});

afterAll(() => {
  vi.unstubAllEnvs();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!hasStoriesHf())('replicas started by the parent (stories260K, real processes)', () => {
  // PT+ with data-mean centring: μ is a buffer, so the replica must get the adapter's whole state.
  const flags = (runId: string, dataParallel: number): JobFlags =>
    dataParallelJobFlags({ home, data, runId, backend: 'cpu' }, 'ptplus', dataParallel, 3, { phiCenter: 'data-mean' });

  async function run(runId: string, dataParallel: number, launcher: ProcessLauncher): Promise<{ losses: number[]; logs: string[]; processes?: number }> {
    const losses: number[] = [];
    const logs: string[] = [];
    const result = await runInChildProcess(jobSpecFromFlags(flags(runId, dataParallel)), {
      launcher,
      onProgress: (p) => void losses.push(p.trainLoss),
      onLog: (m) => void logs.push(m),
    });
    expect(result.status).toBe('finished');
    return { losses, logs, processes: result.processes };
  }

  it('a data-parallel run whose replica the parent started gives the one-process losses', async () => {
    const launched: string[] = [];
    const recording: ProcessLauncher = {
      kind: 'node',
      launch: (file, options) => {
        launched.push(basename(file));
        return nodeLauncher.launch(file, options);
      },
    };
    vi.stubEnv('PREFIXLAB_REPLICAS_THROUGH_PARENT', undefined);
    const single = await run('relay-single', 1, recording);
    vi.stubEnv('PREFIXLAB_REPLICAS_THROUGH_PARENT', '1'); // the training process inherits it
    const relayed = await run('relay-parallel', 2, recording);
    // This process started both training processes and the replica (the training process forked nothing).
    expect(launched.map((f) => f.replace(/\.(ts|js)$/, ''))).toEqual(['worker', 'worker', 'replica-worker']);
    expect(relayed.logs.some((m) => /^dataParallel 2: each step's rows are shared with 1 replica process/.test(m))).toBe(true);
    expect(relayed.processes).toBe(2);
    expect(relayed.losses).toHaveLength(3);
    relayed.losses.forEach((loss, i) => expect(Math.abs(loss - single.losses[i])).toBeLessThan(1e-5 * single.losses[i]));
  }, 240_000);
});

describe('the relay, its two halves back to back', () => {
  /** A replica process stand-in that echoes each step as gradients, and can be made to exit. */
  class StandInReplica implements LaunchedProcess {
    readonly pid = 4242;
    readonly stdout = null;
    readonly stderr = null;
    readonly received: unknown[] = [];
    private messageListener: (message: unknown) => void = () => {};
    private exitListener: (info: ExitInfo) => void = () => {};
    isKilled = false;
    /** Set to make every delivery fail (a channel that broke). */
    failsDelivery = false;
    constructor(readonly options: LaunchOptions | undefined) {}
    send(message: unknown): boolean {
      this.received.push(message);
      const m = message as ToReplica;
      if (m.type === 'step') queueMicrotask(() => this.messageListener({ type: 'grads', id: m.id, loss: 1.5, grads: [new Float32Array([m.id])], rssBytes: 1, computeMs: 2 }));
      return true;
    }
    async deliver(message: unknown): Promise<void> {
      if (this.failsDelivery) throw new Error('channel closed');
      this.send(message);
    }
    onSpawn(): void {}
    onMessage(listener: (message: unknown) => void): void {
      this.messageListener = listener;
    }
    onExit(listener: (info: ExitInfo) => void): void {
      this.exitListener = listener;
    }
    onError(): void {}
    kill(): void {
      this.isKilled = true;
      this.exit({ code: null, signal: 'SIGTERM' });
    }
    unref(): void {}
    exit(info: ExitInfo): void {
      this.exitListener(info);
    }
  }

  function wire() {
    const replicas: StandInReplica[] = [];
    const launcher: ProcessLauncher = {
      kind: 'node',
      launch: (_file, options) => {
        const replica = new StandInReplica(options);
        replicas.push(replica);
        return replica;
      },
    };
    // The training process's channel, whose messages the parent's relay handles (and answers) at once.
    const toTraining: ((message: ParentMessage) => void)[] = [];
    const relay = relayReplicas({ send: (m) => (toTraining.forEach((l) => l(m as ParentMessage)), true) }, launcher);
    const unhandled: WorkerMessage[] = [];
    const channel: ParentChannel<WorkerMessage, ParentMessage> = {
      kind: 'electron-port',
      send: async (message) => void (relay.handle(message) || unhandled.push(message)),
      onMessage: (listener) => void toTraining.push(listener),
      onDisconnect: () => {},
      drained: async () => {},
    };
    return { launch: replicasThroughParent(channel), replicas, relay, unhandled };
  }

  it('starts a replica with its environment, passes messages both ways, and reports its exit', async () => {
    const { launch, replicas, unhandled } = wire();
    const link = launch(0, { TF_NUM_INTRAOP_THREADS: '1' });
    const answers: unknown[] = [];
    const exits: string[] = [];
    link.onMessage((m) => answers.push(m));
    link.onExit((how) => exits.push(how));
    expect(replicas).toHaveLength(1);
    expect(replicas[0].options?.env?.TF_NUM_INTRAOP_THREADS).toBe('1');
    expect(replicas[0].options?.serialization).toBe('advanced');
    const step: ToReplica = { type: 'step', id: 7, batch: { inputIds: [], targets: [], rows: 0, length: 0 } as never, targetTokens: 4, recompute: false };
    await link.send(step);
    await new Promise((r) => setTimeout(r, 0));
    expect(replicas[0].received).toEqual([step]);
    expect(answers).toEqual([{ type: 'grads', id: 7, loss: 1.5, grads: [new Float32Array([7])], rssBytes: 1, computeMs: 2 }]);
    replicas[0].exit({ code: 1, signal: null, detail: 'FatalError at x' });
    expect(exits).toEqual(['code 1, FatalError at x']);
    await expect(link.send(step)).rejects.toThrow('has exited');
    expect(unhandled).toEqual([]);
  });

  it('a message the parent cannot deliver ends that replica, so the training process hears an exit, not silence', async () => {
    const { launch, replicas } = wire();
    const link = launch(0, {});
    const exits: string[] = [];
    link.onExit((how) => exits.push(how));
    replicas[0].failsDelivery = true;
    await link.send({ type: 'step', id: 1, batch: { inputIds: [], targets: [], rows: 0, length: 0 } as never, targetTokens: 4, recompute: false });
    await new Promise((r) => setTimeout(r, 0));
    expect(replicas[0].isKilled).toBe(true);
    expect(exits).toEqual(['SIGTERM']);
  });

  it('kill ends one replica; close ends every one still running', () => {
    const { launch, replicas, relay } = wire();
    const first = launch(0, {});
    launch(1, {});
    launch(2, {});
    first.kill();
    expect(replicas.map((r) => r.isKilled)).toEqual([true, false, false]);
    relay.close();
    expect(replicas.map((r) => r.isKilled)).toEqual([true, true, true]);
  });

  it('a launcher that throws is reported as that replica exiting, not thrown into the app', () => {
    const toTraining: ParentMessage[] = [];
    const failing: ProcessLauncher = {
      kind: 'electron',
      launch: () => {
        throw new Error('spawn EACCES');
      },
    };
    const relay = relayReplicas({ send: (m) => (toTraining.push(m as ParentMessage), true) }, failing);
    expect(relay.handle({ type: 'replica-start', id: 0, env: {} })).toBe(true);
    expect(toTraining).toEqual([{ type: 'replica-exit', id: 0, how: 'could not start: spawn EACCES' }]);
  });

  it('the relay handles only replica messages; the app way is taken in a utility process or when asked', () => {
    const { relay } = wire();
    expect(relay.handle({ type: 'log', message: 'x' })).toBe(false);
    expect(startsReplicasThroughParent({ kind: 'electron-port' }, {})).toBe(true);
    expect(startsReplicasThroughParent({ kind: 'node-ipc' }, {})).toBe(false);
    expect(startsReplicasThroughParent({ kind: 'node-ipc' }, { PREFIXLAB_REPLICAS_THROUGH_PARENT: '1' })).toBe(true);
  });
});
