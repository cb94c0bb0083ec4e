// The training loop: batches from a seeded, checkpointable data stream; masked cross-entropy on the target
// tokens; gradient accumulation; global-norm clipping; AdamW with a learning-rate schedule; evaluation and
// checkpoints every N steps; cancellation between steps; a non-finite loss stops the run before the update.
import * as tf from '@tensorflow/tfjs';
import type { TrainProgress } from '@shared/contract/training';
import { deriveSeed, SEED_PURPOSES } from '../../platform/derive-seed';
import type { PeftAdapter } from '../methods/method';
import type { CausalLM } from '../models/causal-lm';
import { AdamW } from './adamw';
import { collate, planEpoch, splitRows, type TokenBatch } from './batches';
import { batchGradients } from './batch-gradients';
import type { GradientReplicas } from './replicas';
import { sourcesOf } from '../io/safetensors';
import { listCheckpoints, pruneCheckpoints, writeCheckpoint, type Checkpoint, type TrainerState } from './checkpoint';
import { resolvedEvalEvery, resolvedWarmup, type TrainerPlan } from './config';
import type { EncodedExample } from './encode';
import { Rng } from '../../platform/rng';
import { lrAt, type ScheduleConfig } from './schedule';

export interface StepEvaluation {
  evalLoss?: number;
  evalAccuracy?: number;
  /** The run's test file (`--eval-data`), scored beside the eval split. */
  testLoss?: number;
  testAccuracy?: number;
}

export interface TrainerInit {
  runId: string;
  model: CausalLM;
  adapter: PeftAdapter;
  /** Encoded training examples; batches index into this list. */
  examples: EncodedExample[];
  plan: TrainerPlan;
  padId: number;
  /** The run's checkpoints folder, or null to write none. */
  checkpointRoot: string | null;
  /** Called every plan.evalEvery steps and after the last step, with the adapter in eval mode. */
  evaluate?: (step: number) => Promise<StepEvaluation>;
  /** Other processes that take a share of every micro-batch's rows (replicas.ts); absent: this process does all. */
  replicas?: GradientReplicas;
  /** The least time to wait for the replicas once this process's share is done (default 2 min; tests shorten it). */
  replicaGraceMs?: number;
  /** Per micro-batch with replicas: where the time went (benchmarks: what keeps N processes from N×). */
  onReplicaTimes?: (times: ReplicaTimes) => void;
}

export interface ReplicaTimes {
  /** This process's own share: forward and backward. */
  ownMs: number;
  /** Waiting for the replicas after that. */
  waitMs: number;
  /** The slowest replica's own time on its share (ReplicaResult.computeMs). */
  replicaMs: number;
  /** Adding their gradients to this process's. */
  sumMs: number;
}

export interface RunCallbacks {
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void | Promise<void>;
  onCheckpoint?: (entry: { step: number; dir: string; trainLoss: number | null }) => void | Promise<void>;
  /** Warnings (a tensor count that keeps growing: a leak in a method or the model). */
  onLog?: (message: string) => void;
}

export interface TrainOutcome {
  status: 'finished' | 'cancelled' | 'failed';
  /** "step N: loss is NaN/Inf (got NaN)" and the like; absent when finished. */
  reason?: string;
  step: number;
  totalSteps: number;
  tokensSeen: number;
  lastTrainLoss: number | null;
  /** Train losses of the steps run in this call, in order. */
  losses: number[];
  /** Real tokens per second of training steps, over all sessions of this run. */
  tokensPerSecond: number;
  peakMemoryBytes: number;
  /** Folder of the newest complete checkpoint, or null. */
  lastCheckpoint: string | null;
}

/** Thrown inside a step to stop the run with a reason (non-finite loss). */
class StopRun extends Error {}

const THROUGHPUT_WINDOW = 10;
/** Steps between checks that the live tensor count is back where it was after this session's first step. */
const LEAK_CHECK_EVERY = 10;

/** How long the leader waits for replicas once its own share is done: this many times its time, and at least the grace (REPLICA_GRACE_MS by default). */
const REPLICA_GRACE_FACTOR = 20;
const REPLICA_GRACE_MS = 120_000;

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`data-parallel replicas did not answer within ${Math.round(ms / 1000)} s of this process finishing its share`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Current values of the variables, in their order (what a replica needs to compute the same step). */
async function readValues(variables: readonly tf.Variable[]): Promise<Float32Array[]> {
  return Promise.all(variables.map(async (v) => (await v.data()) as Float32Array));
}

export class Trainer {
  readonly optimizer: AdamW;
  private readonly variables: tf.Variable[];
  private readonly schedule: ScheduleConfig;
  private readonly evalEvery: number;
  private rng: Rng;
  private state: TrainerState;
  private peakMemoryBytes = 0;
  private lastCheckpointStep = -1;
  private lastCheckpointDir: string | null = null;
  private readonly recent: { tokens: number; ms: number }[] = [];
  private replicas: GradientReplicas | undefined;
  /** The trainable weights as sent to replicas, read once per step (they change only at its update). */
  private stepValues: Promise<Float32Array[]> | null = null;
  /** Blocks recompute their activations in the backward pass (plan.recompute 'on'; the job resolves 'auto' through the memory guard). */
  readonly recompute: boolean;

  constructor(private readonly init: TrainerInit) {
    const { adapter, plan, examples } = init;
    this.variables = adapter.trainableVariables();
    if (this.variables.length === 0) throw new Error(`the ${adapter.method} adapter has no trainable variables`);
    if (examples.length === 0) throw new Error('no training examples');
    this.optimizer = new AdamW(
      this.variables,
      { beta1: plan.beta1, beta2: plan.beta2, epsilon: plan.epsilon, weightDecay: plan.weightDecay },
      adapter.noDecayVariableNames?.() ?? new Set(),
    );
    this.schedule = {
      kind: plan.schedule,
      peakLr: plan.learningRate,
      totalSteps: plan.totalSteps,
      warmupSteps: resolvedWarmup(plan, plan.totalSteps),
      minLrRatio: plan.minLrRatio,
    };
    this.evalEvery = resolvedEvalEvery(plan, plan.totalSteps);
    this.recompute = plan.recompute === 'on';
    this.replicas = init.replicas;
    this.rng = Rng.fromSeed(deriveSeed(plan.seed, SEED_PURPOSES.dataOrder));
    const order = planEpoch(examples, plan, this.rng);
    this.state = { version: 1, method: adapter.method, step: 0, epoch: 0, cursor: 0, order, rng: this.rng.state(), tokensSeen: 0, lastTrainLoss: null, trainMs: 0 };
  }

  /** Shares every micro-batch's rows with these replicas from the next step on (undefined: this process alone). */
  useReplicas(replicas: GradientReplicas | undefined): void {
    this.replicas = replicas;
  }

  get step(): number {
    return this.state.step;
  }

  /** Learning rate of optimiser step `step` (0-based). */
  learningRateAt(step: number): number {
    return lrAt(this.schedule, step);
  }

  /** Continues from a checkpoint: adapter tensors, optimiser moments, data position and generator. */
  restore(checkpoint: Checkpoint): void {
    if (checkpoint.state.method !== this.init.adapter.method) {
      throw new Error(`checkpoint was made by ${checkpoint.state.method}, not ${this.init.adapter.method}`);
    }
    this.init.adapter.loadStateDict(checkpoint.adapter);
    if (checkpoint.state.adapterRandomState !== undefined) this.init.adapter.setRandomState?.(checkpoint.state.adapterRandomState);
    this.optimizer.setState(checkpoint.optimizer);
    this.rng = Rng.fromState(checkpoint.state.rng);
    this.state = { ...checkpoint.state, order: checkpoint.state.order.map((b) => [...b]) };
    this.lastCheckpointStep = checkpoint.state.step;
    this.lastCheckpointDir = checkpoint.dir;
  }

  /** Runs until totalSteps, cancellation or a non-finite loss. */
  async run(callbacks: RunCallbacks = {}): Promise<TrainOutcome> {
    const { plan, adapter } = this.init;
    const losses: number[] = [];
    let status: TrainOutcome['status'] = 'finished';
    let reason: string | undefined;
    let tensorsAfterFirstStep: number | null = null;
    let isLeakReported = false;
    adapter.setTraining(true);
    try {
      while (this.state.step < plan.totalSteps) {
        if (callbacks.signal?.aborted) {
          status = 'cancelled';
          reason = `cancelled after step ${this.state.step}`;
          break;
        }
        let loss: number;
        let gradNorm: number;
        let stepTokens: number;
        let learningRate: number;
        const started = performance.now();
        try {
          const result = await this.trainStep(callbacks.signal);
          if (result === 'cancelled') {
            status = 'cancelled';
            reason = `cancelled after step ${this.state.step}`;
            break;
          }
          ({ loss, gradNorm, tokens: stepTokens, learningRate } = result);
        } catch (err) {
          if (!(err instanceof StopRun)) throw err;
          status = 'failed';
          reason = err.message;
          break;
        }
        const elapsedMs = performance.now() - started;
        const liveTensors = tf.memory().numTensors;
        tensorsAfterFirstStep ??= liveTensors;
        if (!isLeakReported && losses.length % LEAK_CHECK_EVERY === 0 && liveTensors > tensorsAfterFirstStep) {
          isLeakReported = true;
          callbacks.onLog?.(`live tensors grew from ${tensorsAfterFirstStep} to ${liveTensors} over ${losses.length} steps (a leak in the method or model?)`);
        }
        this.state.trainMs += elapsedMs;
        this.recent.push({ tokens: stepTokens, ms: elapsedMs });
        if (this.recent.length > THROUGHPUT_WINDOW) this.recent.shift();
        losses.push(loss);

        const step = this.state.step;
        let evaluation: StepEvaluation = {};
        const isLast = step === plan.totalSteps;
        if (this.init.evaluate && ((this.evalEvery > 0 && step % this.evalEvery === 0) || isLast)) {
          adapter.setTraining(false);
          try {
            evaluation = await this.init.evaluate(step);
          } finally {
            adapter.setTraining(true);
          }
        }
        await callbacks.onProgress?.(this.progress(loss, gradNorm, learningRate, evaluation));
        if (!isLast && plan.checkpointEvery > 0 && step % plan.checkpointEvery === 0) await this.checkpoint(callbacks);
        // Let cancel messages and other events in between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (status !== 'failed' && this.state.step > 0 && this.state.step !== this.lastCheckpointStep) await this.checkpoint(callbacks);
    } finally {
      adapter.setTraining(false);
    }
    return {
      status,
      reason,
      step: this.state.step,
      totalSteps: plan.totalSteps,
      tokensSeen: this.state.tokensSeen,
      lastTrainLoss: this.state.lastTrainLoss,
      losses,
      tokensPerSecond: this.state.trainMs > 0 ? (this.state.tokensSeen / this.state.trainMs) * 1000 : 0,
      peakMemoryBytes: this.peakMemoryBytes,
      lastCheckpoint: this.lastCheckpointDir,
    };
  }

  /** Writes a checkpoint of the current state (when a checkpoints folder was given). */
  async checkpoint(callbacks: RunCallbacks = {}): Promise<string | null> {
    const root = this.init.checkpointRoot;
    if (!root) return null;
    const state: TrainerState = { ...this.state, rng: this.rng.state(), adapterRandomState: this.init.adapter.randomState?.() };
    const { adapter } = this.init;
    const dir = await writeCheckpoint(root, adapter.stateSources?.() ?? sourcesOf(adapter.stateDict()), this.optimizer.stateSources(), state);
    this.lastCheckpointStep = state.step;
    this.lastCheckpointDir = dir;
    pruneCheckpoints(root, this.init.plan.keepCheckpoints);
    if (!listCheckpoints(root).some((c) => c.dir === dir)) throw new Error(`checkpoint ${dir} vanished after pruning`);
    await callbacks.onCheckpoint?.({ step: state.step, dir, trainLoss: state.lastTrainLoss });
    return dir;
  }

  dispose(): void {
    this.optimizer.dispose();
  }

  // ---- one optimiser step ----

  private nextBatch(): TokenBatch {
    const { examples, plan, padId } = this.init;
    if (this.state.cursor >= this.state.order.length) {
      this.state.epoch += 1;
      this.state.order = planEpoch(examples, plan, this.rng);
      this.state.cursor = 0;
    }
    const members = this.state.order[this.state.cursor++];
    return collate(
      members.map((i) => examples[i]),
      padId,
    );
  }

  private async trainStep(signal?: AbortSignal): Promise<{ loss: number; gradNorm: number; tokens: number; learningRate: number } | 'cancelled'> {
    const { plan } = this.init;
    const before = { epoch: this.state.epoch, cursor: this.state.cursor, order: this.state.order, rng: this.rng.state() };
    const rewind = (): void => {
      this.state.epoch = before.epoch;
      this.state.cursor = before.cursor;
      this.state.order = before.order;
      this.rng = Rng.fromState(before.rng);
    };
    this.stepValues = null;
    const batches: TokenBatch[] = [];
    for (let i = 0; i < plan.gradAccumulation; i++) batches.push(this.nextBatch());
    // Mean over every target token of the step, as if the micro-batches were one batch.
    const targetTokens = batches.reduce((sum, b) => sum + b.targetTokens, 0);
    const realTokens = batches.reduce((sum, b) => sum + b.realTokens, 0);
    const stepNumber = this.state.step + 1;
    if (targetTokens === 0) throw new StopRun(`step ${stepNumber}: the batch has no target tokens`);

    let gradSums: tf.Tensor[] | null = null;
    let loss = 0;
    try {
      for (const [index, batch] of batches.entries()) {
        if (index > 0 && signal?.aborted) {
          rewind();
          return 'cancelled';
        }
        const ordered = await this.microBatchGradients(batch, targetTokens, (value) => {
          loss += value;
        });
        if (gradSums === null) gradSums = ordered;
        else {
          const previous: tf.Tensor[] = gradSums;
          gradSums = previous.map((sum, i) => sum.add(ordered[i]));
          tf.dispose([...previous, ...ordered]);
        }
      }
      const grads = gradSums as tf.Tensor[];
      if (!Number.isFinite(loss)) {
        rewind();
        throw new StopRun(`step ${stepNumber}: loss is NaN/Inf (got ${loss})`);
      }
      const normTensor = tf.tidy(() => tf.addN(grads.map((g) => g.square().sum())).sqrt());
      const gradNorm = (await normTensor.data())[0];
      normTensor.dispose();
      if (!Number.isFinite(gradNorm)) {
        rewind();
        throw new StopRun(`step ${stepNumber}: gradient norm is NaN/Inf (got ${gradNorm})`);
      }
      // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
      const scale = plan.clipNorm > 0 ? Math.min(1, plan.clipNorm / (gradNorm + 1e-6)) : 1;
      const learningRate = this.learningRateAt(this.state.step);
      this.optimizer.step(grads, learningRate, scale);
      this.state.step += 1;
      this.state.tokensSeen += realTokens;
      this.state.lastTrainLoss = loss;
      return { loss, gradNorm, tokens: realTokens, learningRate };
    } finally {
      if (gradSums) tf.dispose(gradSums);
    }
  }

  /**
   * Loss (handed to `onLoss`) and gradients of one micro-batch, in this.variables' order. With replicas the
   * batch's rows are split between this process and them (data parallelism inside the step, replicas.ts): each
   * part's loss is its tokens' sum over the step's target tokens, so the parts add up to the whole batch's.
   */
  private async microBatchGradients(batch: TokenBatch, targetTokens: number, onLoss: (value: number) => void): Promise<tf.Tensor[]> {
    const { model, adapter } = this.init;
    const replicas = this.replicas;
    const local = (part: TokenBatch) =>
      batchGradients({
        model,
        adapter,
        variables: this.variables,
        batch: part,
        targetTokens,
        recompute: this.recompute,
        onForwardBytes: (bytes) => (this.peakMemoryBytes = Math.max(this.peakMemoryBytes, bytes)),
      });
    const parts = replicas ? splitRows(batch, replicas.size + 1) : [batch];
    if (parts.length === 1) {
      const { loss, grads } = await local(batch);
      onLoss(loss);
      return grads;
    }
    // The replicas get their parts (and the current weights) before this process starts its own, synchronous, part.
    const { results: remote } = await replicas!.start({
      parts: parts.slice(1),
      targetTokens,
      values: await (this.stepValues ??= readValues(this.variables)),
      randomState: adapter.randomState?.(),
      recompute: this.recompute,
    });
    let own: { loss: number; grads: tf.Tensor[] };
    const ownStarted = performance.now();
    try {
      own = await local(parts[0]);
    } catch (err) {
      await remote.catch(() => undefined);
      throw err;
    }
    try {
      // Equal shares take about equal time; a replica still busy long after is stuck, not slow.
      const graceMs = this.init.replicaGraceMs ?? REPLICA_GRACE_MS;
      const ownEnded = performance.now();
      const results = await withDeadline(remote, Math.max(graceMs, REPLICA_GRACE_FACTOR * (ownEnded - ownStarted)));
      const received = performance.now();
      let loss = own.loss;
      const grads = own.grads.map((g, i) => tf.tidy(() => results.reduce((sum, r) => sum.add(tf.tensor(r.grads[i], g.shape, 'float32')), g)));
      for (const r of results) loss += r.loss;
      this.init.onReplicaTimes?.({
        ownMs: ownEnded - ownStarted,
        waitMs: received - ownEnded,
        replicaMs: Math.max(...results.map((r) => r.computeMs)),
        sumMs: performance.now() - received,
      });
      onLoss(loss);
      return grads;
    } finally {
      tf.dispose(own.grads);
    }
  }

  private progress(trainLoss: number, gradNorm: number, learningRate: number, evaluation: StepEvaluation): TrainProgress {
    const { plan, runId } = this.init;
    const windowTokens = this.recent.reduce((sum, r) => sum + r.tokens, 0);
    const windowMs = this.recent.reduce((sum, r) => sum + r.ms, 0);
    const msPerStep = this.recent.length ? windowMs / this.recent.length : 0;
    const memory = tf.memory();
    const progress: TrainProgress = {
      runId,
      step: this.state.step,
      totalSteps: plan.totalSteps,
      epoch: this.state.epoch + this.state.cursor / Math.max(1, this.state.order.length),
      trainLoss,
      learningRate,
      gradNorm,
      tokensPerSecond: windowMs > 0 ? (windowTokens / windowMs) * 1000 : 0,
      tokensSeen: this.state.tokensSeen,
      etaSeconds: ((plan.totalSteps - this.state.step) * msPerStep) / 1000,
      memory: { numTensors: memory.numTensors, numBytes: memory.numBytes, rssBytes: process.memoryUsage().rss },
    };
    if (evaluation.evalLoss !== undefined) progress.evalLoss = evaluation.evalLoss;
    if (evaluation.evalAccuracy !== undefined) progress.evalAccuracy = evaluation.evalAccuracy;
    if (evaluation.testLoss !== undefined) progress.testLoss = evaluation.testLoss;
    if (evaluation.testAccuracy !== undefined) progress.testAccuracy = evaluation.testAccuracy;
    return progress;
  }
}
