// Data parallelism inside the step (replicas.ts): a step whose rows are split between this process and replica
// processes gives the losses and weights of the single-process step (up to float rounding), for every PEFT
// method, with uneven splits and gradient accumulation; a replica that dies, hangs or builds other variables is
// reported, not waited on; a step's weights are sent once, not with every micro-batch.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { trainerOptions } from '@shared/trainer-options';
import { initBackend } from '../backend';
import { getMethod, parseMethodOptions } from '../methods/registry';
import { createRandomModel } from '../models/random-init';
import type { TrainerPlan } from './config';
import type { ReplicaRecipe, ToReplica } from './replica-protocol';
import type { ReplicaLink } from './replica-link';
import { Replica, startReplicas, type GradientReplicas } from './replicas';
import { collate, splitRows } from './batches';
import { TINY_LLAMA_CONFIG, toyExamples } from './test-fixtures';
import { Trainer } from './trainer';

const CONFIG = TINY_LLAMA_CONFIG;
const examples = toyExamples(12);

beforeAll(async () => {
  await initBackend('cpu');
});

const open: GradientReplicas[] = [];
afterEach(() => {
  for (const pool of open.splice(0)) pool.close();
});

function plan(batchSize: number, gradAccumulation = 1): TrainerPlan {
  return { ...trainerOptions.parse({ batchSize, gradAccumulation, checkpointEvery: 0, evalEvery: 0, warmupSteps: 1 }), learningRate: 0.05, totalSteps: 3, seed: 3 };
}

/** Trains three steps on a fresh model and adapter, with `replicas` replica processes (0: none). */
async function train(method: string, options: Record<string, unknown>, batchSize: number, replicas: number, gradAccumulation = 1) {
  const model = createRandomModel(CONFIG, 1);
  const adapter = getMethod(method).attach(model, parseMethodOptions(method, options) as never, { seed: 5 });
  const variables = adapter.trainableVariables();
  let pool: GradientReplicas | undefined;
  let handed = 0;
  if (replicas > 0) {
    const recipe: ReplicaRecipe = { model: { config: CONFIG, seed: 1 }, method, methodOptions: options, seed: 5, backend: 'cpu' };
    const started = await startReplicas(replicas, recipe, adapter.stateDict(), { threads: 1, shapes: variables.map((v) => v.shape) });
    open.push(started);
    // Counts the shares the replicas got, so the test knows they did work.
    pool = {
      size: started.size,
      get peakRssBytes() {
        return started.peakRssBytes;
      },
      close: () => started.close(),
      start: (work) => ((handed += work.parts.length), started.start(work)),
    };
  }
  const trainer = new Trainer({ runId: 'dp', model, adapter, examples, plan: plan(batchSize, gradAccumulation), padId: 0, checkpointRoot: null, replicas: pool });
  try {
    const outcome = await trainer.run();
    // A replica that worked reported its memory (a Node process with TensorFlow.js loaded: tens of MB at least).
    if (pool) expect(pool.peakRssBytes).toBeGreaterThan(20 * 2 ** 20);
    const weights = variables.map((v) => v.dataSync().slice() as Float32Array);
    return { outcome, weights, handed };
  } finally {
    pool?.close();
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  }
}

function maxDifference(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  a.forEach((values, i) => values.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i][j])))));
  return max;
}

describe('splitRows', () => {
  it('cuts a batch into contiguous near-equal row groups whose tokens add up to the batch', () => {
    const batch = collate(examples.slice(0, 5), 0);
    const parts = splitRows(batch, 3);
    expect(parts.map((p) => p.batchSize)).toEqual([2, 2, 1]);
    expect(parts.every((p) => p.seqLen === batch.seqLen)).toBe(true);
    expect(parts.reduce((sum, p) => sum + p.targetTokens, 0)).toBe(batch.targetTokens);
    expect(parts.reduce((sum, p) => sum + p.realTokens, 0)).toBe(batch.realTokens);
    expect(Array.from(parts[1].inputIds)).toEqual(Array.from(batch.inputIds.slice(2 * batch.seqLen, 4 * batch.seqLen)));
    // Never an empty share: two rows make two parts whatever was asked.
    expect(splitRows(collate(examples.slice(0, 2), 0), 4)).toHaveLength(2);
  });
});

describe('data-parallel replicas', () => {
  const cases: [string, Record<string, unknown>, number, number][] = [
    ['ptplus', { memoryInitStd: 0.01 }, 4, 1],
    ['lora', { dropout: 0 }, 4, 1],
    ['prefix', {}, 3, 1],
    ['prompt', {}, 4, 1],
    // Five rows over three processes: shares of 2, 2 and 1.
    ['ptplus', { memoryInitStd: 0.01 }, 5, 2],
  ];
  it.each(cases)(
    '%s (%o), batch %i, %i replica(s): the single-process losses and weights',
    async (method, options, batchSize, replicas) => {
      const single = await train(method, options, batchSize, 0);
      const parallel = await train(method, options, batchSize, replicas);
      expect(parallel.outcome.status).toBe('finished');
      expect(parallel.outcome.losses).toHaveLength(3);
      // Every step gave the replicas work (a short last batch may leave one of two without a share).
      expect(parallel.handed).toBeGreaterThanOrEqual(3);
      expect(parallel.handed).toBeLessThanOrEqual(3 * replicas);
      parallel.outcome.losses.forEach((loss, i) => expect(Math.abs(loss - single.outcome.losses[i])).toBeLessThan(1e-5 * Math.abs(single.outcome.losses[i])));
      // The weights moved (three steps at lr 0.05) and moved alike.
      expect(maxDifference(single.weights, parallel.weights)).toBeLessThan(1e-5);
      expect(single.outcome.losses[2]).not.toBe(single.outcome.losses[0]);
    },
    120_000,
  );

  it('with gradient accumulation (two micro-batches a step), the single-process losses and weights', async () => {
    const single = await train('lora', { dropout: 0 }, 2, 0, 2);
    const parallel = await train('lora', { dropout: 0 }, 2, 1, 2);
    expect(parallel.handed).toBe(6); // one share of each of the 2 × 3 micro-batches
    parallel.outcome.losses.forEach((loss, i) => expect(Math.abs(loss - single.outcome.losses[i])).toBeLessThan(1e-5 * Math.abs(single.outcome.losses[i])));
    expect(maxDifference(single.weights, parallel.weights)).toBeLessThan(1e-5);
  }, 120_000);

  it('a replica that dies stops the run with a message naming it', async () => {
    const model = createRandomModel(CONFIG, 1);
    const adapter = getMethod('ptplus').attach(model, parseMethodOptions('ptplus', {}) as never, { seed: 5 });
    const recipe: ReplicaRecipe = { model: { config: CONFIG, seed: 1 }, method: 'ptplus', methodOptions: {}, seed: 5, backend: 'cpu' };
    const pool = await startReplicas(1, recipe, adapter.stateDict(), { threads: 1, shapes: adapter.trainableVariables().map((v) => v.shape) });
    open.push(pool);
    pool.close(); // the replica is killed before the first step
    const trainer = new Trainer({ runId: 'dp', model, adapter, examples, plan: plan(4), padId: 0, checkpointRoot: null, replicas: pool });
    try {
      await expect(trainer.run()).rejects.toThrow(/data-parallel replica 1 (exited|is not connected)/);
      expect(trainer.step).toBe(0);
    } finally {
      trainer.dispose();
      adapter.dispose();
      model.dispose();
    }
  }, 60_000);

  it('a replica that builds other variables is refused at start', async () => {
    const model = createRandomModel(CONFIG, 1);
    const adapter = getMethod('lora').attach(model, parseMethodOptions('lora', { rank: 4 }) as never, { seed: 5 });
    try {
      const recipe: ReplicaRecipe = { model: { config: CONFIG, seed: 1 }, method: 'lora', methodOptions: { rank: 2 }, seed: 5, backend: 'cpu' };
      await expect(startReplicas(1, recipe, adapter.stateDict(), { threads: 1, shapes: adapter.trainableVariables().map((v) => v.shape) })).rejects.toThrow(
        /data-parallel replica 1/,
      );
    } finally {
      adapter.dispose();
      model.dispose();
    }
  }, 60_000);

  it('a replica that answers nothing fails the step once the grace has passed, naming the wait', async () => {
    const model = createRandomModel(CONFIG, 1);
    const adapter = getMethod('lora').attach(model, parseMethodOptions('lora', { dropout: 0 }) as never, { seed: 5 });
    let closed = false;
    // Takes every share and never answers: a hung replica, as the leader sees it.
    const hung: GradientReplicas = { size: 1, peakRssBytes: 0, close: () => (closed = true), start: async () => ({ results: new Promise(() => {}) }) };
    const trainer = new Trainer({ runId: 'dp', model, adapter, examples, plan: plan(4), padId: 0, checkpointRoot: null, replicas: hung, replicaGraceMs: 300 });
    try {
      const started = performance.now();
      await expect(trainer.run()).rejects.toThrow(/data-parallel replicas did not answer within \d+ s of this process finishing its share/);
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect(trainer.step).toBe(0);
      expect(closed).toBe(false); // closing is the job's (it owns the pool)
    } finally {
      trainer.dispose();
      adapter.dispose();
      model.dispose();
    }
  }, 60_000);
});

describe('a replica is sent the weights once a step', () => {
  /** Stands in for a replica process's link: records what it is sent. */
  function standIn() {
    const sent: ToReplica[] = [];
    let failAt = -1;
    const link: ReplicaLink = {
      send: async (message) => {
        sent.push(message);
        await Promise.resolve();
        if (sent.length === failAt) throw new Error('could not be sent a message: channel closed');
      },
      onMessage: () => {},
      onStderr: () => {},
      onExit: () => {},
      kill: () => {},
    };
    return { link, sent, failOn: (n: number) => (failAt = n) };
  }
  const step = (id: number, values: Float32Array[]) => ({ type: 'step' as const, id, values, batch: collate([examples[0]], 0), targetTokens: 4, recompute: false });

  it('omits weights it already sent (later micro-batches of a step), sends new ones, and resends after a failed send', async () => {
    const { link, sent, failOn } = standIn();
    const replica = new Replica(0, link, { type: 'init', recipe: {} as ReplicaRecipe, state: {} }, 1000);
    const first = [new Float32Array([1, 2])];
    const second = [new Float32Array([3, 4])];
    await replica.step(0, step(0, first)).sent;
    await replica.step(1, step(1, first)).sent;
    await replica.step(2, step(2, second)).sent;
    failOn(5); // the fifth message (the second step's second micro-batch) is lost
    const lost = replica.step(3, step(3, second));
    await lost.sent;
    await expect(lost.result).rejects.toThrow(/replica 1 could not be sent a message: channel closed/);
    await replica.step(4, step(4, second)).sent;
    const values = sent.slice(1).map((m) => (m.type === 'step' ? m.values : 'init'));
    expect(values).toEqual([first, undefined, second, undefined, second]);
  });
});
