// One training run from its RunSpec (src/shared/run-spec.ts) to result: loads the base model and the examples,
// freezes the split, attaches the method, writes the run manifest (the RunSpec in it), trains (or resumes from the
// newest checkpoint), evaluates and records the outcome through the RunRecorder it is handed. Runs inside the training process
// (services/training/worker.ts) or, for tests and the CLI, inline.
import { existsSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import type { FinalMetrics, RunManifest, TrainProgress, TrainResult } from '@shared/contract/training';
import type { RunSpec, TrainerSpec } from '@shared/run-spec';
import { trainerOptions, type TrainerOptions } from '@shared/trainer-options';
import { ApiError } from '@shared/errors';
import { activeBackend, explainBackendFailure, initBackend, isWasmAbort, type BackendName } from '../backend';
import { resolveQuantizedBase } from '../io/gguf/quantized-base-option';
import { detectFormat, loadModel, loadTokenizer, type LoadedModel } from '../io/load-model';
import type { TextTokenizer } from '../io/tokenizer';
import type { PeftAdapter } from '../methods/method';
import { getMethod, virtualTokensOf } from '../methods/registry';
import { evaluateExamples, labelVerbalisations, type EvalReport } from '../eval/classify';
import { exactMatch } from '../eval/generation';
import { examplesOf, splitIdsOf } from './run-split';
import { processStartTime } from '../../platform/process-identity';
import { guardRunMemory } from './memory-guard';
import { batchesPerEpoch } from './batches';
import { listCheckpoints, readCheckpoint } from './checkpoint';
import { parseOptions, type TrainerPlan } from './config';
import { encodeExample, type EncodedExample } from './encode';
import { isRunInterrupted } from './interruption';
import type { RunRecorder } from './run-recorder';
import { parseRunSpec } from './run-spec';
import { datasetFingerprint, modelFingerprint, readEvalExamples, readExamples, sha256File, type Example } from './sources';
import { Trainer, type StepEvaluation } from './trainer';
import type { ReplicaLauncher } from './replica-link';
import type { GradientReplicas } from './replicas';
import { startRunReplicas, threadsPerProcess } from './run-replicas';

/** A run to start or resume; cloneable, so it crosses into the training process as is. */
export interface TrainJobSpec {
  /** The data folder; the job itself records through JobIO.recorder (the training process builds it from this). */
  home: string;
  /** What to train (checked against the method registry here); a resume reads its run's manifest instead. */
  runSpec?: RunSpec;
  /** Backend to start in this process; absent: keep the active one. */
  backend?: BackendName | 'auto';
  appVersion?: string;
  /** Set by the service so it knows the id before the process starts; generated otherwise. */
  runId?: string;
  /** Continue run `runId` from its newest checkpoint instead of starting a new one. */
  resume?: boolean;
}

export interface JobIO {
  /** Where the run is recorded (the app: the registry's runs store under `home`). */
  recorder: RunRecorder;
  /** Aborting stops the run after the current step: 'cancelled', or 'interrupted' when the reason is a RunInterrupted. */
  signal?: AbortSignal;
  onProgress?: (progress: TrainProgress) => void | Promise<void>;
  /** Called once the run folder exists (before the first step). */
  onStart?: (info: { runId: string; runDir: string; totalSteps: number }) => void;
  /** Non-fatal messages (truncated examples, memory warnings). */
  log?: (message: string) => void;
  /**
   * How data-parallel replicas start, when not forked by this process: the desktop app's training process asks
   * the app's main process (an Electron utility process cannot start processes).
   */
  replicaLauncher?: ReplicaLauncher;
}

interface Prepared {
  runId: string;
  loaded: LoadedModel;
  tokenizer: TextTokenizer;
  adapter: PeftAdapter;
  manifest: RunManifest;
  trainer: Trainer;
  /** Eval report of the eval split at a step (cached per step); null without an eval split. */
  evaluator: (step: number) => Promise<EvalReport | null>;
  /** Exact match of greedy generations on the eval split (with evalGenerate). */
  generateEval: (() => Promise<number>) | null;
  /** The same two for the test file (RunSpec data.evalPath); null without one. */
  testEvaluator: ((step: number) => Promise<EvalReport | null>) | null;
  generateTest: (() => Promise<number>) | null;
  /** Processes sharing each step's rows (trainer option dataParallel); absent: this one alone. */
  replicas?: GradientReplicas;
}

/**
 * With dataParallel N, this process and its replicas split the cores: TensorFlow reads its thread count when the
 * backend starts, so it is set before then (unless the environment sets it; an inline run whose backend already
 * started keeps its threads). `trainer`: the new run's trainer options, or the resumed run's.
 */
export function shareCoresWithReplicas(trainer: Record<string, unknown> | undefined, env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): void {
  if (env.TF_NUM_INTRAOP_THREADS) return;
  const processes = Number(trainer?.dataParallel ?? 1);
  if (Number.isInteger(processes) && processes > 1) env.TF_NUM_INTRAOP_THREADS = String(threadsPerProcess(cores, processes));
}

export async function runTrainJob(spec: TrainJobSpec, io: JobIO): Promise<TrainResult> {
  const started = performance.now();
  const store = io.recorder;
  // A resume reads its run's manifest once, before the backend starts (its thread count depends on it).
  const previous = spec.resume ? store.read(requireRunId(spec)) : null;
  shareCoresWithReplicas(previous ? previous.trainer : (spec.runSpec?.trainer as Record<string, unknown> | undefined));
  const backend = spec.backend ? await initBackend(spec.backend) : await activeBackend();
  const prepared = await prepare(spec, previous, store, backend, io);
  const { runId, loaded, adapter, trainer, evaluator, replicas } = prepared;
  const runDir = store.runDir(runId);
  io.onStart?.({ runId, runDir, totalSteps: prepared.manifest.totalSteps });

  let isBackendDead = false;
  try {
    const outcome = await trainer.run({
      signal: io.signal,
      onLog: io.log,
      onProgress: async (progress) => {
        store.appendMetrics(runId, progress);
        await io.onProgress?.(progress);
      },
      onCheckpoint: async ({ step, dir, trainLoss }) => {
        const kept = new Set(listCheckpoints(store.checkpointsDir(runId)).map((c) => c.step));
        await store.update(runId, (m) => ({
          ...m,
          step,
          checkpoints: [
            ...m.checkpoints.filter((c) => c.step !== step && kept.has(c.step)),
            { step, dir: `checkpoints/${dir.split(/[\\/]/).pop()}`, createdAt: new Date().toISOString(), trainLoss },
          ],
        }));
      },
    });
    replicas?.close(); // their cores and memory are free for the evaluation
    adapter.setTraining(false);
    // Stopped because the app went away (not by a person): the run is resumable, and nobody waits for scores.
    const abortReason: unknown = io.signal?.reason;
    const interruption = outcome.status === 'cancelled' && isRunInterrupted(abortReason) ? abortReason : null;
    const status: TrainResult['status'] = interruption ? 'interrupted' : outcome.status;
    const reason = interruption ? `${interruption.message} after step ${outcome.step}; resume the run to continue from its last checkpoint` : outcome.reason;
    // A failed run's adapter is not worth scoring; neither is one cancelled before its first step.
    const isScored = !(status === 'failed' || interruption || outcome.step === 0);
    const report = isScored ? await evaluator(outcome.step) : null;
    let final = finalMetrics(outcome.lastTrainLoss, report);
    if (report && prepared.generateEval) final.exactMatch = await prepared.generateEval();
    // The test file's own block; with nothing held out from the training file, it is the run's `final` too.
    const testReport = isScored && prepared.testEvaluator ? await prepared.testEvaluator(outcome.step) : null;
    const finalTest = prepared.testEvaluator ? finalMetrics(outcome.lastTrainLoss, testReport) : undefined;
    if (finalTest && testReport && prepared.generateTest) finalTest.exactMatch = await prepared.generateTest();
    if (finalTest && final.evalExamples === 0) final = { ...finalTest };
    const wallSeconds = (performance.now() - started) / 1000;
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    const parallel = replicas ? { processes: replicas.size + 1 } : {};
    const result = {
      tokensPerSecond: outcome.tokensPerSecond,
      peakMemoryBytes: outcome.peakMemoryBytes,
      peakRssBytes,
      wallSeconds,
      tokensSeen: outcome.tokensSeen,
      ...parallel,
    };
    const manifest = await store.update(runId, (m) => ({
      ...m,
      status,
      ...(reason ? { reason } : {}),
      step: outcome.step,
      endedAt: new Date().toISOString(),
      final,
      ...(finalTest ? { finalTest } : {}),
      result,
    }));
    const lastCheckpoint = listCheckpoints(store.checkpointsDir(runId)).pop()?.dir ?? null;
    return {
      runId,
      runDir,
      status,
      ...(reason ? { reason } : {}),
      method: manifest.method,
      options: manifest.methodOptions,
      trainer: manifest.trainer,
      learningRate: manifest.learningRate,
      seed: manifest.seed,
      backend,
      trainableParams: manifest.trainableParams,
      steps: outcome.step,
      totalSteps: outcome.totalSteps,
      tokensSeen: outcome.tokensSeen,
      tokensPerSecond: outcome.tokensPerSecond,
      peakMemoryBytes: outcome.peakMemoryBytes,
      peakRssBytes,
      wallSeconds,
      ...parallel,
      checkpoint: lastCheckpoint,
      final,
      ...(finalTest ? { finalTest } : {}),
    };
  } catch (caught) {
    const err = explainBackendFailure(caught, backend);
    const reason = err instanceof Error ? err.message : String(err);
    await store.update(runId, (m) => ({ ...m, status: 'failed', reason, endedAt: new Date().toISOString() })).catch(() => undefined);
    isBackendDead = isWasmAbort(caught, backend);
    throw err;
  } finally {
    // An aborted wasm module throws on every call, frees included: the process exits anyway.
    replicas?.close();
    if (!isBackendDead) {
      trainer.dispose();
      adapter.dispose();
      loaded.dispose();
    }
  }
}

function finalMetrics(trainLoss: number | null, report: EvalReport | null): FinalMetrics {
  const c = report?.classification ?? null;
  return {
    trainLoss,
    evalLoss: report && Number.isFinite(report.evalLoss) ? report.evalLoss : null,
    exactMatch: null,
    accuracy: c?.accuracy ?? null,
    perClassAccuracy: c?.perClassAccuracy ?? null,
    labels: c?.labels ?? null,
    confusion: c?.confusion ?? null,
    evalExamples: report?.examples ?? 0,
  };
}

// ---- set-up ----

/** `previous`: the resumed run's manifest (null for a new run). */
async function prepare(spec: TrainJobSpec, previous: RunManifest | null, store: RunRecorder, backend: BackendName, io: JobIO): Promise<Prepared> {
  if (!previous && !spec.runSpec) throw new ApiError('invalid_argument', 'a new run needs its run spec', { field: 'runSpec' });
  const runSpec = previous ? null : parseRunSpec(spec.runSpec as RunSpec);
  const methodName = previous?.method ?? (runSpec as RunSpec).method.name;
  if (previous && spec.runSpec && previous.method !== spec.runSpec.method.name) {
    throw new ApiError('conflict', `run ${previous.runId} trained ${previous.method}, not ${spec.runSpec.method.name}`, { field: 'method' });
  }
  const definition = getMethod(methodName);

  // Options: a resumed run reuses exactly what it started with (old manifests have no runSpec, only these).
  const methodRaw = previous ? previous.methodOptions : (runSpec as RunSpec).method.options;
  const trainerRaw = previous ? previous.trainer : { ...(runSpec as RunSpec).trainer, splitSeed: (runSpec as RunSpec).data.split.seed };
  const methodOptions = parseOptions(definition.options, methodRaw, methodName) as Record<string, unknown>;
  const options = parseOptions(trainerOptions, trainerRaw, 'trainer');

  const modelPath = resolve(previous?.baseModel.path ?? (runSpec as RunSpec).model.path);
  const dataPath = resolve(previous?.dataset.path ?? (runSpec as RunSpec).data.path);
  // One clear line (not a raw ENOENT from hashing) when a path is wrong or, for a resume, has moved away.
  const whose = previous ? `run ${previous.runId}'s ` : '';
  if (!existsSync(modelPath)) throw new ApiError('not_found', `${whose}base model does not exist`, { file: modelPath });
  if (!existsSync(dataPath)) throw new ApiError('not_found', `${whose}dataset does not exist`, { file: dataPath });
  const modelFiles = await modelFingerprint(modelPath);
  const dataSha = await datasetFingerprint(dataPath);
  if (previous) {
    const before = previous.baseModel.files.map((f) => `${f.path}:${f.sha256}`).join(',');
    if (before !== modelFiles.map((f) => `${f.path}:${f.sha256}`).join(',')) {
      throw new ApiError('conflict', 'the base model files changed since the run started; cannot resume', { file: modelPath });
    }
    if (previous.dataset.sha256 !== dataSha) throw new ApiError('conflict', 'the dataset file changed since the run started; cannot resume', { file: dataPath });
  }

  const examples = await readExamples(dataPath);
  const seed = previous?.seed ?? (runSpec as RunSpec).seed;
  const splitSpec = runSpec?.data.split;
  const split = !splitSpec
    ? { trainIds: (previous as RunManifest).dataset.trainIds, evalIds: (previous as RunManifest).dataset.evalIds }
    : splitIdsOf(examples, splitSpec, options.splitSeed, seed);
  const trainExamples = examplesOf(examples, split.trainIds, dataPath);
  const evalExamples = examplesOf(examples, split.evalIds, dataPath);

  // The user's test file: read like the training data, scored only (never in trainExamples, never tuned on).
  const testPathRaw = previous ? previous.dataset.evalData?.path : (runSpec as RunSpec).data.evalPath;
  const testPath = testPathRaw !== undefined ? resolve(testPathRaw) : null;
  const testExamples = testPath ? await readEvalExamples(testPath, dataPath) : [];
  const testSha = testPath ? await sha256File(testPath) : null;
  if (previous?.dataset.evalData && previous.dataset.evalData.sha256 !== testSha) {
    throw new ApiError('conflict', 'the eval data file changed since the run started; cannot resume', { file: testPath ?? undefined });
  }
  if (testPath) {
    const trained = new Set(trainExamples.map((e) => `${e.prompt}\u0000${e.target}`));
    const repeated = testExamples.filter((e) => trained.has(`${e.prompt}\u0000${e.target}`)).length;
    if (repeated) io.log?.(`${repeated} of ${testExamples.length} examples of the eval data ${testPath} repeat a training example; their scores overstate generalisation`);
  }

  // The training set encoded with the model's tokenizer alone (no weight is read yet): bad examples are refused
  // before loading, and the longest example, not maxLength, bounds what a batch holds (batches are padded to their
  // longest row), so the memory guard judges the run by it. Virtual tokens (prompt/prefix tuning) go in front:
  // together they must fit the trained context (GPT-2's learned positions cannot go beyond it at all).
  const { tokenizer: textTokenizer, config: headerConfig } = await loadTokenizer(modelPath);
  if (!textTokenizer) throw new ApiError('unsupported', 'the model has no tokenizer; training needs one to encode text', { file: modelPath });
  const virtualTokens = virtualTokensOf(methodName, methodOptions).count;
  const maxLength = Math.min(options.maxLength, headerConfig.maxPositions - virtualTokens);
  if (maxLength < 2)
    throw new ApiError('invalid_argument', `numVirtualTokens ${virtualTokens} leaves no room in the model's ${headerConfig.maxPositions}-token context`, {
      field: 'numVirtualTokens',
    });
  const encoded: EncodedExample[] = trainExamples.map((e, i) => encodeExample(textTokenizer, e, i, { maxLength, addEos: options.addEos }));
  const truncated = encoded.filter((e) => e.isTruncated).length;
  if (truncated) io.log?.(`${truncated} of ${encoded.length} training examples were longer than ${maxLength} tokens and lost prompt tokens from the left`);
  const empty = encoded.find((e) => e.targetStart >= e.ids.length);
  if (empty) throw new ApiError('invalid_argument', `example ${trainExamples[empty.index].id} has an empty target; nothing to train on`, { field: 'target' });
  const longest = encoded.reduce((most, e) => Math.max(most, e.ids.length), 1);
  const longestTarget = encoded.reduce((most, e) => Math.max(most, e.ids.length - e.targetStart), 1);

  // A GGUF base under a frozen-base method may keep its quantized layer matrices compact (same values and losses).
  const quantizedBase = resolveQuantizedBase(options.quantizedBase, methodName, detectFormat(modelPath), modelPath);
  // Refuse a run that cannot fit (or warn near the limit) before the weights are loaded.
  const memory = await guardRunMemory(
    modelPath,
    {
      method: methodName,
      methodOptions,
      batchSize: options.batchSize,
      batchTokens: options.batchTokens,
      maxLength: longest,
      scoredPerRow: longestTarget,
      recompute: options.recompute,
      quantizedBase,
    },
    io.log,
    backend,
  );
  const loaded = await loadModel(modelPath, { quantizedBase });
  let adapter: PeftAdapter | null = null;
  try {
    const tokenizer = loaded.tokenizer ?? textTokenizer;
    const config = loaded.model.config;
    const padId = config.padTokenId ?? tokenizer.eosTokenId ?? 0;

    const totalSteps = previous?.totalSteps ?? planSteps((runSpec as RunSpec).trainer, encoded, options);
    const learningRate = previous?.learningRate ?? runSpec?.trainer.learningRate ?? definition.defaultLearningRate;
    // recompute 'auto' resolved by the memory guard: on only when the run would not fit otherwise.
    const plan: TrainerPlan = { ...options, maxLength, learningRate, totalSteps, seed, recompute: memory.recompute ? 'on' : 'off' };

    adapter = definition.attach(loaded.model, methodOptions as never, {
      seed,
      encode: (text) => tokenizer.encode(text, { addSpecialTokens: false }),
      warn: io.log,
    });
    const runId = previous?.runId ?? spec.runId ?? store.newRunId(methodName);
    const evaluator = makeEvaluator(loaded, tokenizer, adapter, evalExamples, labelVerbalisations([...trainExamples, ...evalExamples]), { ...options, maxLength }, padId);
    // The test file's labels join the candidates only so each of its rows has its true label among them.
    const testEvaluator = testPath
      ? makeEvaluator(loaded, tokenizer, adapter, testExamples, labelVerbalisations([...trainExamples, ...evalExamples, ...testExamples]), { ...options, maxLength }, padId)
      : null;
    const trainer = new Trainer({
      runId,
      model: loaded.model,
      adapter,
      examples: encoded,
      plan,
      padId,
      checkpointRoot: store.checkpointsDir(runId),
      evaluate: async (step) => {
        const report = await evaluator(step);
        const test = testEvaluator ? await testEvaluator(step) : null;
        const out: StepEvaluation = {};
        // Nothing held out of the training file: the curve's eval points are the test file's.
        const shown = report ?? test;
        if (shown) Object.assign(out, { evalLoss: shown.evalLoss, evalAccuracy: shown.classification?.accuracy });
        if (test) Object.assign(out, { testLoss: test.evalLoss, testAccuracy: test.classification?.accuracy });
        return out;
      },
    });

    let manifest: RunManifest;
    if (previous) {
      const latest = listCheckpoints(store.checkpointsDir(runId)).pop();
      if (!latest) throw new ApiError('not_found', `run ${runId} has no complete checkpoint to resume from`, { file: store.checkpointsDir(runId) });
      trainer.restore(readCheckpoint(latest.dir));
      await store.truncateMetrics(runId, latest.step);
      manifest = await store.update(runId, (m) => {
        const rest = { ...m };
        delete rest.reason;
        delete rest.endedAt;
        delete rest.pidStartTime;
        return { ...rest, status: 'running', ...owner(), hostname: hostname(), backend, step: latest.step };
      });
    } else {
      // The method's own set-up before step 0 (PT+'s data-mean centring); what it sets is saved with every
      // checkpoint, so a resumed run restores it from there instead.
      await definition.prepare?.(adapter, { model: loaded.model, examples: encoded, padId, log: io.log });
      manifest = {
        version: 1,
        runId,
        status: 'running',
        method: methodName,
        methodOptions,
        trainer: options as unknown as Record<string, unknown>,
        learningRate,
        seed,
        backend,
        appVersion: spec.appVersion ?? 'unknown',
        ...owner(),
        hostname: hostname(),
        startedAt: new Date().toISOString(),
        baseModel: { path: modelPath, format: loaded.format, architecture: config.architecture, parameters: config.parameters, files: modelFiles, quantizedBase },
        dataset: {
          path: dataPath,
          sha256: dataSha,
          kPerClass: splitSpec?.kPerClass ?? null,
          splitSeed: options.splitSeed,
          trainIds: split.trainIds,
          evalIds: split.evalIds,
          ...(testPath && testSha ? { evalData: { path: testPath, sha256: testSha, examples: testExamples.length } } : {}),
        },
        trainableParams: adapter.trainableParamCount(),
        totalSteps,
        step: 0,
        checkpoints: [],
        // The whole run as it was asked for (the fields above are what it resolved to).
        runSpec: runSpec as RunSpec,
      };
      await store.create(manifest);
    }
    const replicas = await startRunReplicas({
      processes: options.dataParallel,
      method: methodName,
      methodOptions,
      seed,
      modelPath,
      quantizedBase,
      backend,
      adapter,
      memory,
      log: io.log,
      launch: io.replicaLauncher,
    });
    trainer.useReplicas(replicas);
    const generateOn = (scored: Example[]) =>
      options.evalGenerate && scored.length
        ? async () => (await exactMatch(loaded.model, tokenizer, scored.slice(0, options.maxEvalExamples), { hooks: adapter!.hooks, batchSize: options.evalBatchSize })).exactMatch
        : null;
    return {
      runId,
      loaded,
      tokenizer,
      adapter,
      manifest,
      trainer,
      evaluator,
      generateEval: generateOn(evalExamples),
      testEvaluator,
      generateTest: generateOn(testExamples),
      replicas,
    };
  } catch (err) {
    adapter?.dispose();
    loaded.dispose();
    throw err;
  }
}

function makeEvaluator(
  loaded: LoadedModel,
  tokenizer: TextTokenizer,
  adapter: PeftAdapter,
  evalExamples: Example[],
  verbalisations: Record<string, string>,
  options: TrainerOptions,
  padId: number,
): (step: number) => Promise<EvalReport | null> {
  let last: { step: number; report: EvalReport } | null = null;
  const scored = evalExamples.slice(0, options.maxEvalExamples);
  return async (step) => {
    if (scored.length === 0) return null;
    if (last?.step === step) return last.report;
    const report = await evaluateExamples(loaded.model, tokenizer, scored, {
      hooks: adapter.hooks,
      maxLength: options.maxLength,
      addEos: options.addEos,
      batchSize: options.evalBatchSize,
      padId,
      // No labels to choose between: the examples' own targets are scored, nothing else.
      verbalisations: options.scoreLabels ? verbalisations : {},
    });
    last = { step, report };
    return report;
  };
}

/** This process as the run's owner: pid plus start time, so a later reuse of the pid is not taken for it. */
function owner(): { pid: number; pidStartTime?: number } {
  const startTime = processStartTime(process.pid);
  return startTime === null ? { pid: process.pid } : { pid: process.pid, pidStartTime: startTime };
}

function requireRunId(spec: TrainJobSpec): string {
  if (!spec.runId) throw new ApiError('invalid_argument', 'resume needs the run id', { field: 'runId' });
  return spec.runId;
}

/** Optimiser steps for steps | epochs | budgetTokens (default 3 epochs). */
export function planSteps(spec: Pick<TrainerSpec, 'steps' | 'epochs' | 'budgetTokens'>, encoded: readonly EncodedExample[], options: TrainerOptions): number {
  const perEpoch = Math.max(1, Math.ceil(batchesPerEpoch(encoded, options) / options.gradAccumulation));
  let steps: number;
  if (spec.steps !== undefined) steps = spec.steps;
  else if (spec.epochs !== undefined) steps = Math.ceil(spec.epochs * perEpoch);
  else if (spec.budgetTokens !== undefined) {
    const tokensPerEpoch = encoded.reduce((sum, e) => sum + e.ids.length, 0);
    steps = Math.ceil((spec.budgetTokens / tokensPerEpoch) * perEpoch);
  } else steps = 3 * perEpoch;
  if (!Number.isInteger(steps) || steps < 1) throw new ApiError('invalid_argument', `the run must train at least one step (got ${steps})`, { field: 'steps' });
  return steps;
}
