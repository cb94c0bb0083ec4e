// Training for the CLI and the app: `train` runs one method in a separate training process
// (training/worker.ts) and relays its progress; `resume` continues a run from its newest checkpoint; `compare`
// runs several methods on the same frozen split, seeds and token budget, optionally each at a learning rate
// tuned on a validation split carved from the training data. Results are the public JSON of
// `prefixlab train --json` and `prefixlab compare --json` (src/shared/contract/training.ts).
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import type { CompareResult, CompareRow, LrGridPoint, LrTuning, TrainProgress, TrainResult, TuneLrRequest } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import { createAdapterFromRun } from '../registry/adapter-store';
import { activeBackend, type BackendName } from '../engine/backend';
import type { MethodName } from '../engine/methods/method';
import { getMethod } from '../engine/methods/registry';
import { parseOptions, splitSettings, trainerOptions } from '../engine/train/config';
import type { TrainJobSpec } from '../engine/train/job';
import { readExamples } from '../engine/train/sources';
import { splitExamples } from '../datasets/splits/make-split';
import { carveValidationSplit, checkTuningPool, pickLearningRate, resolveGrid, validationSeed } from '../engine/train/tune-lr';
import { workerEntry, type ParentMessage, type WorkerMessage } from './training/worker-protocol';
import { isOwnerAlive } from '../platform/process-identity';
import { RunsStore } from '../registry/runs-store';
import { nodeLauncher, type ProcessLauncher } from '../platform/process-launcher';
import { APP_VERSION } from '../platform/version';

/** Where a run executes: a separate training process (default), or this process (tests, one-shot CLI). */
export type Isolation = 'process' | 'inline';

export interface RunHooks {
  onProgress?: (progress: TrainProgress) => void;
  /** Non-fatal messages from the run (truncated examples, memory warnings). */
  onLog?: (message: string) => void;
  /** Once the run folder exists. */
  onStart?: (info: { runId: string; runDir: string; totalSteps: number }) => void;
  /** The training process's pid (process isolation only), e.g. to supervise it. */
  onSpawn?: (pid: number) => void;
  /** Abort = cancel: the run stops after the current step, checkpoints and is marked cancelled. */
  signal?: AbortSignal;
  isolate?: Isolation;
  /** How the training process is started: child_process.fork (default) or, in the Electron app, utilityProcess.fork. */
  launcher?: ProcessLauncher;
  /** false: a finished run does not become a registry adapter (learning-rate tuning runs). Default true. */
  registerAdapter?: boolean;
}

export interface TrainRequest extends RunHooks {
  home: string;
  model: string;
  data: string;
  method: MethodName;
  set?: Record<string, string>;
  steps?: number;
  epochs?: number;
  budgetTokens?: number;
  seed?: number;
  kPerClass?: number;
  /** Share (< 1) or count (≥ 1) held out for eval (default 0.2); ignored with `split`. */
  evalSplit?: number;
  /** A frozen split to use as is (a stored split of the dataset service); kPerClass draws from its train ids. */
  split?: { trainIds: string[]; evalIds: string[] };
  lr?: number;
  backend?: BackendName | 'auto';
}

/** Trains one method; resolves when the run ends (finished, cancelled or failed: see result.status). */
export async function train(req: TrainRequest): Promise<TrainResult> {
  getMethod(req.method); // unknown method: fail here, before a process starts
  const spec: TrainJobSpec = {
    home: req.home,
    model: req.model,
    data: req.data,
    method: req.method,
    set: req.set ?? {},
    steps: req.steps,
    epochs: req.epochs,
    budgetTokens: req.budgetTokens,
    seed: req.seed ?? 0,
    kPerClass: req.kPerClass,
    evalSplit: req.evalSplit,
    split: req.split,
    lr: req.lr,
    // The training process starts the backend this process uses unless told otherwise.
    backend: req.backend ?? (await activeBackend()),
    appVersion: APP_VERSION,
    runId: RunsStore.newRunId(req.method),
  };
  return execute(spec, req);
}

/** Continues run `runId` from its newest checkpoint with the options it started with. */
export async function resume(req: { home: string; runId: string; backend?: BackendName | 'auto' } & RunHooks): Promise<TrainResult> {
  const manifest = new RunsStore(req.home).read(req.runId);
  if (manifest.status === 'finished') throw new ApiError('conflict', `run ${req.runId} has already finished`, { field: 'runId' });
  // 'running' with its process gone (or its pid reused) is an interrupted run the app has not marked yet.
  if (manifest.status === 'running' && isOwnerAlive(manifest.pid, manifest.pidStartTime)) {
    throw new ApiError('conflict', `run ${req.runId} is still running (pid ${manifest.pid})`, { field: 'runId' });
  }
  const spec: TrainJobSpec = {
    home: req.home,
    model: manifest.baseModel.path,
    data: manifest.dataset.path,
    method: manifest.method,
    seed: manifest.seed,
    backend: req.backend ?? (await activeBackend()),
    appVersion: APP_VERSION,
    runId: req.runId,
    resume: true,
  };
  return execute(spec, req);
}

/** Marks runs left 'running' by a dead process as 'interrupted'; call once when the service starts. */
export async function recoverInterruptedRuns(home: string): Promise<string[]> {
  return new RunsStore(home).markInterrupted();
}

async function execute(spec: TrainJobSpec, hooks: RunHooks): Promise<TrainResult> {
  if (hooks.signal?.aborted) throw new ApiError('cancelled', 'training was cancelled before it started');
  let result: TrainResult;
  if (hooks.isolate === 'inline') {
    const { runTrainJob } = await import('../engine/train/job');
    result = await runTrainJob(spec, { recorder: new RunsStore(spec.home), signal: hooks.signal, onProgress: hooks.onProgress, onStart: hooks.onStart, log: hooks.onLog });
  } else {
    result = await runInChildProcess(spec, hooks);
  }
  return hooks.registerAdapter === false ? result : withAdapter(spec.home, result, hooks);
}

/** A finished run becomes a registry adapter (its final checkpoint plus provenance), so it can be exported. */
async function withAdapter(home: string, result: TrainResult, hooks: RunHooks): Promise<TrainResult> {
  if (result.status !== 'finished') return result;
  try {
    const adapter = await createAdapterFromRun(home, result.runId);
    return { ...result, adapterId: adapter.id };
  } catch (err) {
    // The run itself succeeded and stays exportable by its id; say why no adapter entry was made.
    hooks.onLog?.(`run ${result.runId} finished but no adapter entry was made: ${err instanceof Error ? err.message : String(err)}`);
    return result;
  }
}

function runInChildProcess(spec: TrainJobSpec, hooks: RunHooks): Promise<TrainResult> {
  const entry = workerEntry();
  const child = (hooks.launcher ?? nodeLauncher).launch(entry.file, {
    execArgv: entry.execArgv,
    env: { ...process.env, ...entry.env },
    serviceName: 'PrefixLab training',
  });
  // The child's stdout (tfjs prints banners) must never reach our stdout: `--json` output lives there.
  child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.onSpawn((pid) => hooks.onSpawn?.(pid));
  const send = (message: ParentMessage): boolean => child.send(message);
  const runId = spec.runId as string;

  return new Promise<TrainResult>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      send({ type: 'cancel' });
    };
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.onMessage((raw) => {
      const message = raw as WorkerMessage;
      switch (message?.type) {
        case 'ready':
          send({ type: 'start', spec });
          if (hooks.signal?.aborted) onAbort();
          break;
        case 'started':
          hooks.onStart?.({ runId: message.runId, runDir: message.runDir, totalSteps: message.totalSteps });
          break;
        case 'progress':
          hooks.onProgress?.(message.progress);
          break;
        case 'log':
          hooks.onLog?.(message.message);
          break;
        case 'result':
          send({ type: 'done' });
          finish(() => resolve(message.result));
          break;
        case 'error':
          send({ type: 'done' });
          finish(() => reject(ApiError.from(message.error)));
          break;
      }
    });
    child.onError((err) => finish(() => reject(new ApiError('internal', `the training process could not start: ${err.message}`))));
    child.onExit(({ code, signal, detail }) => {
      if (settled) return;
      const how = `${signal ? `was killed (${signal})` : `exited with code ${code}`}${detail ? ` (${detail})` : ''}`;
      void markDead(spec.home, runId, `the training process ${how}`).finally(() =>
        finish(() =>
          reject(new ApiError('internal', `the training process ${how} before the run ended; run ${runId} is marked interrupted and can be resumed from its last checkpoint`)),
        ),
      );
    });
  });
}

/** A run whose process died while it was 'running' becomes 'interrupted' (resumable). */
async function markDead(home: string, runId: string, reason: string): Promise<void> {
  const store = new RunsStore(home);
  try {
    await store.update(runId, (m) => (m.status === 'running' ? { ...m, status: 'interrupted', reason, endedAt: new Date().toISOString() } : m));
  } catch {
    // the run folder was never created (the process died while loading)
  }
}

// ---- compare ----

export interface CompareRequest extends Omit<RunHooks, 'onStart' | 'onSpawn'> {
  home: string;
  model: string;
  data: string;
  methods: MethodName[];
  seeds: number[];
  kPerClass?: number;
  /** Real training tokens per run (converted to the same number of steps for every method). */
  budgetTokens?: number;
  steps?: number;
  epochs?: number;
  evalSplit?: number;
  /** A frozen split shared by every run (a stored split of the dataset service). */
  split?: { trainIds: string[]; evalIds: string[] };
  /** Peak learning rate per method (default: each method's defaultLearningRate). */
  lrPerMethod?: Partial<Record<MethodName, number>>;
  /** Trainer options shared by every run (batchSize, maxLength, …). */
  set?: Record<string, string>;
  /** Method options per method. */
  setPerMethod?: Partial<Record<MethodName, Record<string, string>>>;
  backend?: BackendName | 'auto';
  /**
   * Tune each method's peak learning rate first: a validation split is carved out of the training pool
   * (stratified, seeded, frozen; the eval/test split is never read), each method trains over its grid and
   * the rate with the best validation accuracy (ties → lower validation loss) is used for every seed.
   * Methods given a rate in lrPerMethod are not tuned.
   */
  tuneLr?: TuneLrRequest;
  /** Progress of every run, tagged with its method and seed (and phase: 'tune' for tuning runs). */
  onRunProgress?: (info: RunTag, progress: TrainProgress) => void;
  /** Before each run starts. */
  onRunStart?: (info: RunTag & { lr: number }) => void;
}

/** The contract's TuneLrRequestSchema: grid per method (default DEFAULT_LR_GRIDS), steps, valSplit, seeds. */
export type { TuneLrRequest };

export interface RunTag {
  method: MethodName;
  seed: number;
  phase: 'tune' | 'final';
}

/**
 * Every method × seed on one frozen eval split (the split seed is fixed), the same k-shot training set per
 * seed and the same steps (from budgetTokens, steps or epochs). Runs one after another, each in its own
 * training process. A run that fails (e.g. a NaN loss) counts in failedRuns and leaves the means.
 */
export async function compare(req: CompareRequest): Promise<CompareResult> {
  if (req.methods.length === 0) throw new ApiError('invalid_argument', 'compare needs at least one method', { field: 'methods' });
  if (req.seeds.length === 0) throw new ApiError('invalid_argument', 'compare needs at least one seed', { field: 'seeds' });
  for (const method of req.methods) getMethod(method);
  const lrPerMethod: Partial<Record<MethodName, number>> = { ...req.lrPerMethod };
  let tuning: { perMethod: Partial<Record<MethodName, LrTuning>>; meta: NonNullable<CompareResult['tuning']> } | null = null;
  if (req.tuneLr) {
    tuning = await tuneLearningRates(req, req.tuneLr);
    for (const [method, t] of Object.entries(tuning.perMethod) as [MethodName, LrTuning][]) lrPerMethod[method] = t.chosenLr;
  }

  const runs: TrainResult[] = [];
  const failures = new Map<MethodName, number>();
  for (const seed of req.seeds) {
    for (const method of req.methods) {
      const outcome = await compareRun(
        req,
        { method, seed, phase: 'final' },
        {
          lr: lrPerMethod[method],
          set: { ...prefixTrainerKeys(req.set ?? {}), ...(req.setPerMethod?.[method] ?? {}) },
          steps: req.steps,
          epochs: req.epochs,
          budgetTokens: req.budgetTokens,
          split: req.split,
        },
      );
      if (outcome.result) runs.push(outcome.result);
      if (outcome.isFailed) failures.set(method, (failures.get(method) ?? 0) + 1);
    }
  }
  const rows = req.methods.map((method) => {
    const row = summarise(
      method,
      runs.filter((r) => r.method === method),
      failures.get(method) ?? 0,
      lrPerMethod[method],
    );
    const t = tuning?.perMethod[method];
    return t ? { ...row, tuning: t } : row;
  });
  return {
    rows,
    runs,
    seeds: req.seeds,
    steps: runs[0]?.totalSteps ?? 0,
    budgetTokens: req.budgetTokens ?? null,
    evalExamples: runs[0]?.final.evalExamples ?? 0,
    ...(tuning ? { tuning: tuning.meta } : {}),
  };
}

/**
 * One run of a comparison. Cancelling, and invalid arguments (every run would fail alike), end the whole
 * comparison; any other failure is counted and logged.
 */
async function compareRun(
  req: CompareRequest,
  tag: RunTag,
  run: Pick<TrainRequest, 'lr' | 'set' | 'steps' | 'epochs' | 'budgetTokens' | 'split' | 'registerAdapter'>,
): Promise<{ result: TrainResult | null; isFailed: boolean }> {
  if (req.signal?.aborted) throw new ApiError('cancelled', 'the comparison was cancelled');
  const { method, seed } = tag;
  req.onRunStart?.({ ...tag, lr: run.lr ?? getMethod(method).defaultLearningRate });
  try {
    const result = await train({
      home: req.home,
      model: req.model,
      data: req.data,
      method,
      ...run,
      seed,
      kPerClass: req.kPerClass,
      evalSplit: req.evalSplit,
      backend: req.backend,
      signal: req.signal,
      isolate: req.isolate,
      launcher: req.launcher,
      onLog: req.onLog,
      onProgress: (p) => {
        req.onProgress?.(p);
        req.onRunProgress?.(tag, p);
      },
    });
    if (result.status === 'cancelled') throw new ApiError('cancelled', 'the comparison was cancelled');
    return { result, isFailed: result.status !== 'finished' };
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'cancelled' || err.code === 'invalid_argument')) throw err;
    req.onLog?.(`${method} seed ${seed}${tag.phase === 'tune' ? ` (tuning, lr ${run.lr})` : ''} failed: ${err instanceof Error ? err.message : String(err)}`);
    return { result: null, isFailed: true };
  }
}

// ---- learning-rate tuning ----

/** Tuning runs only need their final validation score: no intermediate evaluations, one final checkpoint. */
const TUNING_TRAINER = { 'train.evalEvery': '0', 'train.checkpointEvery': '0', 'train.keepCheckpoints': '1', 'train.evalGenerate': 'false' };

async function tuneLearningRates(
  req: CompareRequest,
  tune: TuneLrRequest,
): Promise<{ perMethod: Partial<Record<MethodName, LrTuning>>; meta: NonNullable<CompareResult['tuning']> }> {
  const grids = new Map(req.methods.filter((m) => req.lrPerMethod?.[m] === undefined).map((m) => [m, resolveGrid(m, tune.grid?.[m])] as const));
  if (tune.steps !== undefined && (!Number.isInteger(tune.steps) || tune.steps < 1)) {
    throw new ApiError('invalid_argument', `tuning steps must be a positive integer, got ${tune.steps}`, { field: 'tuneLr.steps' });
  }
  const tuneSeeds = tune.seeds?.length ? tune.seeds : [req.seeds[0]];
  const shared = prefixTrainerKeys(req.set ?? {});
  const { splitSeed } = parseOptions(trainerOptions, splitSettings(shared, z.object({}), 'compare').trainer, 'trainer');

  // The frozen train/test split every final run uses (eval ids depend only on the split seed), then the
  // validation split carved out of its training side.
  const examples = await readExamples(resolvePath(req.data));
  const base = req.split ?? splitExamples(examples, { splitSeed, evalSplit: req.evalSplit ?? 0.2, kPerClass: null, seed: 0 });
  const { trainIds, valIds } = carveValidationSplit(examples, base.trainIds, { valSplit: tune.valSplit ?? 0.2, valSeed: validationSeed(splitSeed) });
  const testIds = new Set(base.evalIds);
  if (valIds.some((id) => testIds.has(id)) || trainIds.some((id) => testIds.has(id))) {
    throw new ApiError('internal', 'the validation split overlaps the test split'); // cannot happen: both come from the training pool
  }
  checkTuningPool(examples, trainIds, req.kPerClass);
  req.onLog?.(`tuning learning rates on ${valIds.length} validation examples carved from ${base.trainIds.length} training examples (test split untouched)`);

  const perMethod: Partial<Record<MethodName, LrTuning>> = {};
  for (const [method, grid] of grids) {
    const points: LrGridPoint[] = [];
    for (const lr of grid) {
      const finished: TrainResult[] = [];
      const runIds: string[] = [];
      let failedRuns = 0;
      for (const seed of tuneSeeds) {
        const outcome = await compareRun(
          req,
          { method, seed, phase: 'tune' },
          {
            lr,
            set: { ...shared, ...(req.setPerMethod?.[method] ?? {}), ...TUNING_TRAINER },
            ...(tune.steps !== undefined ? { steps: tune.steps } : { steps: req.steps, epochs: req.epochs, budgetTokens: req.budgetTokens }),
            split: { trainIds, evalIds: valIds },
            registerAdapter: false,
          },
        );
        if (outcome.result) runIds.push(outcome.result.runId);
        if (outcome.isFailed || !outcome.result) failedRuns += 1;
        else finished.push(outcome.result);
      }
      points.push({
        lr,
        valAccuracy: mean(finished.map((r) => r.final.accuracy).filter((a): a is number => a !== null)),
        valLoss: mean(finished.map((r) => r.final.evalLoss).filter((l): l is number => l !== null)),
        failedRuns,
        runIds,
      });
    }
    let chosenLr = pickLearningRate(points);
    if (chosenLr === null) {
      chosenLr = getMethod(method).defaultLearningRate;
      req.onLog?.(`${method}: every tuning run failed; using its default learning rate ${chosenLr}`);
    }
    req.onLog?.(`${method}: chose lr ${chosenLr} (${points.map((p) => `${p.lr}: ${p.valAccuracy === null ? '—' : (p.valAccuracy * 100).toFixed(1) + '%'}`).join(', ')})`);
    perMethod[method] = { chosenLr, grid: points };
  }
  return {
    perMethod,
    meta: { valIds, trainPoolSize: trainIds.length, steps: tune.steps ?? null, seeds: tuneSeeds, splitSeed },
  };
}

/** Shared `set` keys are trainer options: prefix them so a method never claims one. */
function prefixTrainerKeys(set: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(set).map(([k, v]) => [k.startsWith('train.') ? k : `train.${k}`, v]));
}

function mean(values: number[]): number | null {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

function sampleStd(values: number[]): number | null {
  if (values.length === 0) return null;
  if (values.length === 1) return 0;
  const m = mean(values) as number;
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}

/** Options of a run that differ from the method's defaults (JSON comparison). */
function nonDefaultOptions(method: MethodName, options: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!options) return {};
  const defaults = getMethod(method).options.parse({}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(options).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(defaults[key])));
}

function summarise(method: MethodName, results: TrainResult[], failedRuns: number, lr?: number): CompareRow {
  const finished = results.filter((r) => r.status === 'finished');
  const options = nonDefaultOptions(method, results[0]?.options);
  const accuracies = finished.map((r) => r.final.accuracy).filter((a): a is number => a !== null);
  const evalLosses = finished.map((r) => r.final.evalLoss).filter((l): l is number => l !== null);
  return {
    method,
    trainableParams: results[0]?.trainableParams ?? 0,
    accuracyMean: mean(accuracies),
    accuracyStd: sampleStd(accuracies),
    evalLoss: mean(evalLosses),
    tokensPerSecond: mean(finished.map((r) => r.tokensPerSecond)) ?? 0,
    peakMemoryBytes: Math.max(0, ...results.map((r) => r.peakMemoryBytes)),
    wallSeconds: mean(results.map((r) => r.wallSeconds)) ?? 0,
    lr: results[0]?.learningRate ?? lr ?? getMethod(method).defaultLearningRate,
    failedRuns,
    ...(Object.keys(options).length ? { options } : {}),
  };
}
