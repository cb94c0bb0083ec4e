// Entry of a data-parallel replica process (started by replicas.ts): builds the leader's model and adapter
// from a recipe, then, for each step, takes the current weights and a share of the batch's rows and sends back
// that share's loss and gradients. It keeps no optimiser state: the leader updates the weights and sends them
// once every step, so the replica can never drift from it.
//
// From source it runs as `node --import tsx replica-worker.ts`; the electron-vite bundle emits it as
// `out/main/replica-worker.js` (see replica-link.ts).
import * as tf from '@tensorflow/tfjs';
import { parentChannel } from '../../platform/parent-channel';
import { initBackend } from '../backend';
import { loadModel } from '../io/load-model';
import type { PeftAdapter } from '../methods/method';
import { getMethod, parseMethodOptions } from '../methods/registry';
import type { CausalLM } from '../models/causal-lm';
import { createRandomModel } from '../models/random-init';
import { batchGradients } from './batch-gradients';
import type { FromReplica, ToReplica } from './replica-protocol';

// Node IPC when the training process forked it, Electron's parentPort when the app's main process started it.
const channel = parentChannel<FromReplica, ToReplica>();
if (!channel) {
  process.stderr.write('prefixlab: a replica process must be started by a training process (it has no channel to one)\n');
  process.exit(2);
}

let model: CausalLM | null = null;
let adapter: PeftAdapter | null = null;
let variables: tf.Variable[] = [];
/** Whether a step has brought weights yet (later micro-batches of a step come without them). */
let hasWeights = false;
/** Steps run one at a time, in arrival order. */
let queue: Promise<void> = Promise.resolve();

const send = (message: FromReplica): void => void channel!.send(message);
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

channel.onMessage((message) => {
  if (message?.type !== 'init' && message?.type !== 'step') return; // the utility-process channel's 'done'
  queue = queue.then(() => handle(message)).catch((err: unknown) => send({ type: 'error', id: message.type === 'step' ? message.id : undefined, message: messageOf(err) }));
});
// The leader went away (Node IPC): nothing is left to do. A utility process is ended by the app's main process.
channel.onDisconnect(() => process.exit(0));
process.on('SIGINT', () => {});

async function handle(message: ToReplica): Promise<void> {
  if (message.type === 'init') {
    const { recipe, state } = message;
    await initBackend(recipe.backend);
    model = 'path' in recipe.model ? (await loadModel(recipe.model.path, recipe.model.load)).model : createRandomModel(recipe.model.config, recipe.model.seed);
    adapter = getMethod(recipe.method).attach(model, parseMethodOptions(recipe.method, recipe.methodOptions) as never, { seed: recipe.seed, restoring: true });
    adapter.loadStateDict(state);
    adapter.setTraining(true);
    variables = adapter.trainableVariables();
    send({ type: 'ready', backend: recipe.backend, variables: variables.map((v) => ({ name: v.name, shape: v.shape })) });
    return;
  }
  if (!model || !adapter) throw new Error('a step arrived before the replica was initialised');
  const started = performance.now();
  const { id, values, batch, targetTokens } = message;
  if (values) {
    if (values.length !== variables.length) throw new Error(`step ${id}: ${values.length} weight arrays for ${variables.length} variables`);
    variables.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(values[i], v.shape, 'float32'))));
    hasWeights = true;
  } else if (!hasWeights) {
    throw new Error(`step ${id} arrived without weights, and none were sent before`);
  }
  if (message.randomState !== undefined) adapter.setRandomState?.(message.randomState);
  const { loss, grads } = await batchGradients({ model, adapter, variables, batch, targetTokens, recompute: message.recompute });
  try {
    const arrays = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
    send({ type: 'grads', id, loss, grads: arrays, rssBytes: process.memoryUsage().rss, computeMs: performance.now() - started });
  } finally {
    tf.dispose(grads);
  }
}
