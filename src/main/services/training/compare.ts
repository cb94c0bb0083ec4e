// The one orchestrator of a comparison, for `prefixlab compare` and the app's run queue alike: every method ×
// seed (seeds outermost) on one frozen split, the same k-shot training set per seed and the same steps, one run
// after another; optionally each method at a learning rate tuned first on a validation split carved from the
// training data (the eval/test split is never read). runComparison runs it; compare adds the table's rows
// (`prefixlab compare --json`, src/shared/contract/training.ts).
import { resolve as resolvePath } from 'node:path';
import type { CompareResult, CompareRow, LrGridPoint, LrTuning, TrainProgress, TrainResult, TuneLrRequest } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import type { RunSpec, TrainerSpec } from '@shared/run-spec';
import type { BackendName } from '../../engine/backend';
import type { MethodName } from '../../engine/methods/method';
import { getMethod } from '../../engine/methods/registry';
import { parseRunSpec } from '../../engine/train/run-spec';
import { readExamples } from '../../engine/train/sources';
import { carveValidationSplit, checkTuningPool, describeGridPoint, pickLearningRate, resolveGrid, validationSeed } from '../../engine/train/tune-lr';
import { splitExamples } from '../../datasets/splits/make-split';
import type { RunHooks } from './run-process';
import { train } from './train';
import type { TorchEngineOptions } from './torch-engine/run-torch';

/** One method of a comparison: its options and, when fixed, its peak learning rate. */
export interface MethodRun {
  name: MethodName;
  options: Record<string, unknown>;
  /** Peak learning rate; absent: tuned (with tuneLr) or the method's default. */
  learningRate?: number;
  /** This method's trainer options, when they differ from the shared ones (`--set lora.batchSize=2`). */
  trainer?: TrainerSpec;
}

/** A comparison, typed: what every run shares, the methods and the seeds. */
export interface ComparePlan {
  /** Model, data and split, trainer options (and budget) of every run; method and seed come per run. */
  base: Omit<RunSpec, 'method' | 'seed'>;
  methods: MethodRun[];
  seeds: number[];
  /**
   * Tune each method's peak learning rate first: a validation split is carved out of the training pool
   * (stratified, seeded, frozen; the eval/test split is never read), each method trains over its grid and
   * the rate with the best validation accuracy (ties → lower validation loss) is used for every seed.
   * Methods given a learning rate are not tuned.
   */
  tuneLr?: TuneLrRequest;
}

export interface RunTag {
  method: MethodName;
  seed: number;
  phase: 'tune' | 'final';
}

export interface CompareRequest extends Omit<RunHooks, 'onStart' | 'onSpawn'> {
  home: string;
  plan: ComparePlan;
  backend?: BackendName | 'auto';
  /** How the torch engine starts, for a plan whose engine is 'torch'. */
  torch?: TorchEngineOptions;
  /** Progress of every run, tagged with its method and seed (and phase: 'tune' for tuning runs). */
  onRunProgress?: (tag: RunTag, progress: TrainProgress) => void;
  /** Before each run starts. */
  onRunStart?: (tag: RunTag & { lr: number }) => void | Promise<void>;
  /** Once a run's folder exists. */
  onRunStarted?: (tag: RunTag, info: { runId: string }) => void;
  /** After each run (or skip): its result, or the error it ended with. */
  onRunEnd?: (tag: RunTag, outcome: { result: TrainResult | null; error?: unknown; isSkipped?: boolean }) => void | Promise<void>;
  /**
   * A final run's own cancel signal (the app cancels one queued run, not the comparison): already aborted, the
   * run is skipped; aborted while it trains, it stops and the comparison moves on. Without it a cancelled run
   * ends the whole comparison.
   */
  runSignal?: (tag: RunTag) => AbortSignal | undefined;
}

/** What a comparison ran: every finished-or-failed final run, the failures per method, the rates used. */
export interface ComparisonRuns {
  runs: TrainResult[];
  failures: Map<MethodName, number>;
  learningRates: Partial<Record<MethodName, number>>;
  tuning: {
    perMethod: Partial<Record<MethodName, LrTuning>>;
    meta: NonNullable<CompareResult['tuning']>;
    /** Each method's finished tuning runs at its chosen rate. */
    chosenRuns: Partial<Record<MethodName, TrainResult[]>>;
  } | null;
}

/** What the app's `training.start` asks for, resolved to paths and a stored split. */
export interface ComparisonRequest {
  modelPath: string;
  /** The imported dataset's folder, and its id. */
  dataPath: string;
  datasetId: string;
  /** The stored split as is: the same train and eval examples for every method and seed. */
  split: { name: string; seed: number; trainIds: string[]; evalIds: string[] };
  /** The test file every run scores (RunSpec data.evalPath): an imported test dataset's source file. */
  evalPath?: string;
  methods: { method: MethodName; options?: Record<string, unknown>; learningRate?: number }[];
  seeds: number[];
  /** Trainer options for every run (the rest take their defaults), and the budget. */
  trainer: Partial<TrainerSpec>;
  /** The training engine (RunSpec engine; default tfjs). */
  engine?: 'tfjs' | 'torch';
}

/** The app's comparison as a typed ComparePlan, every method's run spec checked before anything is queued. */
export function comparePlanOf(req: ComparisonRequest): ComparePlan {
  const specOf = (m: ComparisonRequest['methods'][number]): RunSpec =>
    parseRunSpec({
      ...(req.engine ? { engine: req.engine } : {}),
      model: { path: req.modelPath },
      data: {
        path: req.dataPath,
        datasetId: req.datasetId,
        split: { seed: req.split.seed, name: req.split.name, frozen: { trainIds: req.split.trainIds, evalIds: req.split.evalIds } },
        ...(req.evalPath !== undefined ? { evalPath: req.evalPath } : {}),
      },
      method: { name: m.method, options: m.options ?? {} },
      trainer: req.trainer,
    });
  const specs = req.methods.map(specOf);
  const first = specs[0];
  if (!first) throw new ApiError('invalid_argument', 'compare needs at least one method', { field: 'methods' });
  return {
    base: { version: first.version, engine: first.engine, model: first.model, data: first.data, trainer: first.trainer },
    methods: specs.map((spec, i) => {
      const lr = req.methods[i]?.learningRate;
      return { name: spec.method.name, options: spec.method.options, ...(lr !== undefined ? { learningRate: lr } : {}) };
    }),
    seeds: req.seeds,
  };
}

/** The run spec of one method and seed of a plan. */
export function runSpecOf(
  plan: ComparePlan,
  method: MethodRun,
  seed: number,
  lr: number | undefined,
  overrides: { trainer?: Partial<TrainerSpec>; frozen?: { trainIds: string[]; evalIds: string[] } } = {},
): RunSpec {
  const trainer: TrainerSpec = { ...(method.trainer ?? plan.base.trainer), ...overrides.trainer };
  if (lr !== undefined) trainer.learningRate = lr;
  else delete trainer.learningRate;
  for (const key of ['steps', 'epochs', 'budgetTokens'] as const) if (trainer[key] === undefined) delete trainer[key];
  const data = overrides.frozen ? { ...plan.base.data, split: { ...plan.base.data.split, frozen: overrides.frozen } } : plan.base.data;
  return { ...plan.base, data, method: { name: method.name, options: method.options }, trainer, seed };
}

/**
 * Runs a comparison: tuning first (with tuneLr), then every seed × method. A run that fails (e.g. a NaN loss)
 * counts in failures; cancelling, and invalid arguments (every run would fail alike), end the comparison.
 */
export async function runComparison(req: CompareRequest): Promise<ComparisonRuns> {
  const { plan } = req;
  if (plan.methods.length === 0) throw new ApiError('invalid_argument', 'compare needs at least one method', { field: 'methods' });
  if (plan.seeds.length === 0) throw new ApiError('invalid_argument', 'compare needs at least one seed', { field: 'seeds' });
  for (const method of plan.methods) getMethod(method.name);
  const learningRates: Partial<Record<MethodName, number>> = {};
  for (const m of plan.methods) if (m.learningRate !== undefined) learningRates[m.name] = m.learningRate;
  if (plan.tuneLr?.only && plan.methods.some((m) => m.learningRate !== undefined)) {
    throw new ApiError('invalid_argument', 'tuning only: every method must be tuned (drop its fixed learning rate)', { field: 'tuneLr.only' });
  }
  let tuning: ComparisonRuns['tuning'] = null;
  if (plan.tuneLr) {
    tuning = await tuneLearningRates(req, plan.tuneLr);
    for (const [method, t] of Object.entries(tuning.perMethod) as [MethodName, LrTuning][]) learningRates[method] = t.chosenLr;
  }

  const runs: TrainResult[] = [];
  const failures = new Map<MethodName, number>();
  if (plan.tuneLr?.only) {
    // The rows describe each method's chosen-rate tuning runs.
    for (const chosen of Object.values(tuning!.chosenRuns)) runs.push(...(chosen ?? []));
    return { runs, failures, learningRates, tuning };
  }
  for (const seed of plan.seeds) {
    for (const method of plan.methods) {
      const outcome = await compareRun(req, { method: method.name, seed, phase: 'final' }, runSpecOf(plan, method, seed, learningRates[method.name]));
      if (outcome.result) runs.push(outcome.result);
      if (outcome.isFailed) failures.set(method.name, (failures.get(method.name) ?? 0) + 1);
    }
  }
  return { runs, failures, learningRates, tuning };
}

/** A comparison and its table: each method's mean over seeds (`prefixlab compare --json`). */
export async function compare(req: CompareRequest): Promise<CompareResult> {
  const { runs, failures, learningRates, tuning } = await runComparison(req);
  const rows = req.plan.methods.map(({ name }) => {
    const row = summarise(
      name,
      runs.filter((r) => r.method === name),
      failures.get(name) ?? 0,
      learningRates[name],
    );
    const t = tuning?.perMethod[name];
    return t ? { ...row, tuning: t } : row;
  });
  const budgetTokens = req.plan.base.trainer.budgetTokens;
  return {
    rows,
    runs,
    seeds: req.plan.seeds,
    steps: runs[0]?.totalSteps ?? 0,
    budgetTokens: budgetTokens ?? null,
    evalExamples: runs[0]?.final.evalExamples ?? 0,
    ...(tuning ? { tuning: tuning.meta } : {}),
  };
}

/** One run of a comparison; see runComparison for which failures end it. */
async function compareRun(req: CompareRequest, tag: RunTag, spec: RunSpec): Promise<{ result: TrainResult | null; isFailed: boolean }> {
  const own = tag.phase === 'final' ? req.runSignal?.(tag) : undefined;
  if (req.signal?.aborted) throw new ApiError('cancelled', 'the comparison was cancelled');
  if (own?.aborted) {
    await req.onRunEnd?.(tag, { result: null, isSkipped: true });
    return { result: null, isFailed: false };
  }
  const { method, seed } = tag;
  const lr = spec.trainer.learningRate;
  await req.onRunStart?.({ ...tag, lr: lr ?? getMethod(method).defaultLearningRate });
  // Cancelled by its own signal (not the comparison's): this run stops, the comparison goes on.
  const isOwnCancel = (): boolean => own?.aborted === true && req.signal?.aborted !== true;
  let isEnded = false;
  try {
    const result = await train({
      home: req.home,
      spec,
      backend: req.backend,
      torch: req.torch,
      signal: own && req.signal ? AbortSignal.any([own, req.signal]) : (own ?? req.signal),
      isolate: req.isolate,
      launcher: req.launcher,
      registerAdapter: tag.phase === 'tune' ? false : req.registerAdapter,
      onLog: req.onLog,
      onStart: (info) => req.onRunStarted?.(tag, info),
      onProgress: (p) => {
        req.onProgress?.(p);
        req.onRunProgress?.(tag, p);
      },
    });
    isEnded = true;
    await req.onRunEnd?.(tag, { result });
    if (result.status === 'cancelled') {
      if (isOwnCancel()) return { result: null, isFailed: false };
      throw new ApiError('cancelled', 'the comparison was cancelled');
    }
    return { result, isFailed: result.status !== 'finished' };
  } catch (err) {
    if (!isEnded) await req.onRunEnd?.(tag, { result: null, error: err });
    if (isOwnCancel()) return { result: null, isFailed: false };
    if (err instanceof ApiError && (err.code === 'cancelled' || err.code === 'invalid_argument')) throw err;
    req.onLog?.(`${method} seed ${seed}${tag.phase === 'tune' ? ` (tuning, lr ${lr})` : ''} failed: ${err instanceof Error ? err.message : String(err)}`);
    return { result: null, isFailed: true };
  }
}

// ---- learning-rate tuning ----

/** Tuning runs only need their final validation score: no intermediate evaluations, one final checkpoint. */
const TUNING_TRAINER = { evalEvery: 0, checkpointEvery: 0, keepCheckpoints: 1, evalGenerate: false } satisfies Partial<TrainerSpec>;

async function tuneLearningRates(req: CompareRequest, tune: TuneLrRequest): Promise<NonNullable<ComparisonRuns['tuning']>> {
  // The test file (data.evalPath) is never read while tuning: tuning runs score the validation split only.
  const plan = tuningPlanOf(req.plan);
  const grids = new Map(plan.methods.filter((m) => m.learningRate === undefined).map((m) => [m, resolveGrid(m.name, tune.grid?.[m.name])] as const));
  if (tune.steps !== undefined && (!Number.isInteger(tune.steps) || tune.steps < 1)) {
    throw new ApiError('invalid_argument', `tuning steps must be a positive integer, got ${tune.steps}`, { field: 'tuneLr.steps' });
  }
  const tuneSeeds = tune.seeds?.length ? tune.seeds : [plan.seeds[0]];
  const { split } = plan.base.data;
  const splitSeed = split.seed;

  // The frozen train/test split every final run uses (eval ids depend only on the split seed), then the
  // validation split carved out of its training side.
  const examples = await readExamples(resolvePath(plan.base.data.path));
  const base = split.frozen ?? splitExamples(examples, { splitSeed, evalSplit: split.evalSplit, kPerClass: null, seed: 0 });
  const { trainIds, valIds } = carveValidationSplit(examples, base.trainIds, { valSplit: tune.valSplit ?? 0.2, valSeed: validationSeed(splitSeed) });
  const testIds = new Set(base.evalIds);
  if (valIds.some((id) => testIds.has(id)) || trainIds.some((id) => testIds.has(id))) {
    throw new ApiError('internal', 'the validation split overlaps the test split'); // cannot happen: both come from the training pool
  }
  checkTuningPool(examples, trainIds, split.kPerClass ?? undefined);
  req.onLog?.(`tuning learning rates on ${valIds.length} validation examples carved from ${base.trainIds.length} training examples (test split untouched)`);
  // With tuning steps, they replace the seeds' own budget.
  const budget: Partial<TrainerSpec> = tune.steps !== undefined ? { steps: tune.steps, epochs: undefined, budgetTokens: undefined } : {};

  const perMethod: Partial<Record<MethodName, LrTuning>> = {};
  const chosenRuns: Partial<Record<MethodName, TrainResult[]>> = {};
  for (const [method, grid] of grids) {
    const points: LrGridPoint[] = [];
    const finishedByLr = new Map<number, TrainResult[]>();
    for (const lr of grid) {
      const finished: TrainResult[] = [];
      const runIds: string[] = [];
      let failedRuns = 0;
      for (const seed of tuneSeeds) {
        const spec = runSpecOf(plan, method, seed, lr, { trainer: { ...TUNING_TRAINER, ...budget }, frozen: { trainIds, evalIds: valIds } });
        const outcome = await compareRun(req, { method: method.name, seed, phase: 'tune' }, spec);
        if (outcome.result) runIds.push(outcome.result.runId);
        if (outcome.isFailed || !outcome.result) failedRuns += 1;
        else finished.push(outcome.result);
      }
      finishedByLr.set(lr, finished);
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
      chosenLr = getMethod(method.name).defaultLearningRate;
      req.onLog?.(`${method.name}: every tuning run failed; using its default learning rate ${chosenLr}`);
    }
    req.onLog?.(`${method.name}: chose lr ${chosenLr} (${points.map(describeGridPoint).join(', ')})`);
    perMethod[method.name] = { chosenLr, grid: points };
    chosenRuns[method.name] = finishedByLr.get(chosenLr) ?? [];
  }
  return {
    perMethod,
    chosenRuns,
    meta: { valIds, trainPoolSize: trainIds.length, steps: tune.steps ?? null, seeds: tuneSeeds, splitSeed },
  };
}

/** The plan the tuning runs use: the comparison's, less its test file (data.evalPath). */
export function tuningPlanOf(plan: ComparePlan): ComparePlan {
  const data = { ...plan.base.data };
  delete data.evalPath;
  return { ...plan, base: { ...plan.base, data } };
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
  // Runs with a test file (`--eval-data`) add its accuracy and loss, over the same finished seeds.
  const tested = finished.flatMap((r) => (r.finalTest ? [r.finalTest] : []));
  const testAccuracies = tested.map((t) => t.accuracy).filter((a): a is number => a !== null);
  const test = tested.length
    ? {
        testAccuracyMean: mean(testAccuracies),
        testAccuracyStd: sampleStd(testAccuracies),
        testEvalLoss: mean(tested.map((t) => t.evalLoss).filter((l): l is number => l !== null)),
      }
    : {};
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
    ...test,
  };
}
