// Entry of the training process (a child of the app): receives one job, runs it and reports progress, the
// result or the error; the run is recorded in the registry's runs store of spec.home. Cancel arrives as a
// message; the run then stops after the current step and writes a checkpoint. Keeping training in its own
// process keeps the UI responsive and lets a native backend crash or run out of memory without taking the
// app down.
//
// It runs under child_process.fork (the CLI and `prefixlab serve`: Node's IPC channel, process.send) or under
// Electron's utilityProcess.fork (the desktop app, where the RunAsNode fuse is off: process.parentPort); see
// parentChannel in worker-protocol.ts and src/main/platform/process-launcher.ts.
//
// Messages in:  {type: 'start', spec: TrainJobSpec} · {type: 'cancel'} · {type: 'done'}
// Messages out: {type: 'ready'} · {type: 'started', runId, runDir, totalSteps} · {type: 'progress', progress}
//               · {type: 'log', message} · {type: 'result', result} · {type: 'error', error: ApiErrorData}
//
// From source (vitest, dev) it is forked as `node --import tsx worker.ts`; the electron-vite bundle must emit
// it as its own main-process entry, `out/main/train-worker.js` (see worker-protocol.ts).
import { toErrorData } from '../../platform/system-errors';
import { RunInterrupted } from '../../engine/train/interruption';
import type { TrainJobSpec } from '../../engine/train/job';
import { RunsStore } from '../../registry/runs-store';
import { replicasThroughParent, startsReplicasThroughParent } from './replica-relay';
import { parentChannel } from './worker-protocol';

const channel = parentChannel();
if (!channel) {
  process.stderr.write('prefixlab: the training process must be started by the app (it has no channel to a parent)\n');
  process.exit(2);
}

const controller = new AbortController();
let isStarted = false;

channel.onMessage((message) => {
  if (message?.type === 'cancel') controller.abort();
  else if (message?.type === 'start' && !isStarted && message.spec) {
    isStarted = true;
    void run(message.spec);
  }
});
// The app went away (killed, crashed): stop at the next step boundary, checkpointed, and leave the run
// 'interrupted' — resumable — rather than 'cancelled', which only a person does.
channel.onDisconnect(() => controller.abort(new RunInterrupted()));
// Ctrl-C in a terminal reaches the whole process group: the parent turns it into a cancel message (and a
// second Ctrl-C ends the parent, which lands above), so this process must not die of it first.
process.on('SIGINT', () => {});
// With the parent gone, writes to the piped stdout/stderr fail (EPIPE); that must not crash the run's wind-down.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

async function run(spec: TrainJobSpec): Promise<void> {
  const send = channel!.send;
  let code = 0;
  try {
    const { runTrainJob } = await import('../../engine/train/job');
    const result = await runTrainJob(spec, {
      recorder: new RunsStore(spec.home),
      signal: controller.signal,
      onStart: (info) => void send({ type: 'started', ...info }),
      onProgress: (progress) => send({ type: 'progress', progress }),
      log: (message) => void send({ type: 'log', message }),
      // The desktop app's training process cannot start processes: the app's main process starts its replicas.
      ...(startsReplicasThroughParent(channel!) ? { replicaLauncher: replicasThroughParent(channel!) } : {}),
    });
    await send({ type: 'result', result });
  } catch (err) {
    code = 1;
    await send({ type: 'error', error: toErrorData(err) });
  }
  await channel!.drained();
  // tfjs keeps handles open; leave explicitly once the parent has the last message.
  process.exit(code);
}

void channel.send({ type: 'ready' });
