// Entry of the training process (a child of the app, forked with an IPC channel): receives one job, runs it
// and reports progress, the result or the error. Cancel arrives as a message; the run then stops after the
// current step and writes a checkpoint. Keeping training in its own process keeps the UI responsive and lets
// a native backend crash or run out of memory without taking the app down.
//
// Messages in:  {type: 'start', spec: TrainJobSpec} · {type: 'cancel'}
// Messages out: {type: 'started', runId, runDir, totalSteps} · {type: 'progress', progress} · {type: 'log', message}
//               · {type: 'result', result} · {type: 'error', error: ApiErrorData}
//
// From source (vitest, dev) it is forked as `node --import tsx worker.ts`; the electron-vite bundle must emit
// it as its own main-process entry, `out/main/train-worker.js` (see worker-path.ts).
import { toApiErrorData } from '@shared/errors';
import type { TrainJobSpec } from './job';
import type { WorkerMessage } from './worker-protocol';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

const controller = new AbortController();
let isStarted = false;

process.on('message', (raw: unknown) => {
  const message = raw as { type?: string; spec?: TrainJobSpec };
  if (message.type === 'cancel') controller.abort();
  else if (message.type === 'start' && !isStarted && message.spec) {
    isStarted = true;
    void run(message.spec);
  }
});
// The app went away: stop at the next step boundary (the last checkpoint stays usable).
process.on('disconnect', () => controller.abort());

async function run(spec: TrainJobSpec): Promise<void> {
  let code = 0;
  try {
    const { runTrainJob } = await import('./job');
    const result = await runTrainJob(spec, {
      signal: controller.signal,
      onStart: (info) => void send({ type: 'started', ...info }),
      onProgress: (progress) => send({ type: 'progress', progress }),
      log: (message) => void send({ type: 'log', message }),
    });
    await send({ type: 'result', result });
  } catch (err) {
    code = 1;
    await send({ type: 'error', error: toApiErrorData(err) });
  }
  // tfjs keeps handles open; leave explicitly once the parent has the last message.
  process.exit(code);
}

void send({ type: 'ready' });
