// `prefixlab train` and `prefixlab compare`: one method, or several on the same frozen split, seeds and
// token budget, optionally each at a learning rate tuned on a validation split carved from the training data
// (`--tune-lr`). The flags become a RunSpec / ComparePlan (../run-spec-flags.ts); Ctrl-C cancels: the run stops after the current step and keeps its last checkpoint.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { MethodName } from '../../engine/methods/method';
import type { Command, OptionSpec, ParsedArgs } from '../command';
import { bootstrap } from '../bootstrap';
import { parseFloatFlag, parseIdList, parseIntFlag, parseList, parseSetFlags, requireString } from '../parse';
import { createProgressPrinter, describeProgress } from '../progress-line';
import type { CompareRow, TuneLrRequest } from '@shared/contract/training';
import { compare } from '../../services/training/compare';
import { train } from '../../services/training/train';
import { comparePlanFromFlags, engineFlag, runSpecFromFlags, splitPerMethod } from '../run-spec-flags';
import { checkAccelerateConfig, checkNproc } from '../../services/training/torch-engine/launch-command';
import type { TorchEngineOptions } from '../../services/training/torch-engine/run-torch';
import { isMethodName, METHOD_NAMES } from '../../engine/methods/registry';
import { methodOptionsHelp } from '../method-help';

const COMMON_OPTIONS: OptionSpec = {
  model: { type: 'string' },
  data: { type: 'string' },
  set: { type: 'string', multiple: true },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  'budget-tokens': { type: 'string' },
  'k-per-class': { type: 'string' },
  'eval-split': { type: 'string' },
  'eval-data': { type: 'string' },
  engine: { type: 'string' },
  nproc: { type: 'string' },
  'accelerate-config': { type: 'string' },
  python: { type: 'string' },
};

/** The usage of the engine flags (train and compare). */
const ENGINE_USAGE = '[--engine tfjs|torch [--nproc N] [--accelerate-config FILE] [--python PATH]]';

/** `--engine` and the torch engine's own flags, which need `--engine torch`. */
function engineFlags(args: ParsedArgs): { engine?: string; torch?: TorchEngineOptions } {
  const engine = args.values.engine === undefined ? undefined : requireString(args.values.engine, '--engine');
  const nproc = parseIntFlag(args.values.nproc, '--nproc');
  const accelerateConfig = args.values['accelerate-config'] === undefined ? undefined : resolve(requireString(args.values['accelerate-config'], '--accelerate-config'));
  const python = args.values.python === undefined ? undefined : resolve(requireString(args.values.python, '--python'));
  const torch = { ...(nproc !== undefined ? { nproc: checkNproc(nproc) } : {}), ...(accelerateConfig ? { accelerateConfig } : {}), ...(python ? { python } : {}) };
  if (engineFlag(engine) !== 'torch') {
    const stray = [
      ['--nproc', nproc],
      ['--accelerate-config', accelerateConfig],
      ['--python', python],
    ].find(([, v]) => v !== undefined);
    if (stray) throw new ApiError('invalid_argument', 'needs --engine torch', { field: stray[0] as string });
    return { engine };
  }
  checkAccelerateConfig(accelerateConfig);
  return { engine, torch };
}

/** `--eval-data FILE`: the user's own test file (scored, never trained on), as an absolute path. */
function evalData(args: ParsedArgs): string | undefined {
  const value = args.values['eval-data'];
  return value === undefined ? undefined : resolve(requireString(value, '--eval-data'));
}

function methodName(value: string, flag: string): MethodName {
  if (!isMethodName(value)) throw new ApiError('invalid_argument', `unknown method "${value}" (use ${METHOD_NAMES.join(', ')})`, { field: flag });
  return value;
}

function budget(args: ParsedArgs) {
  const steps = parseIntFlag(args.values.steps, '--steps', { min: 1 });
  const epochs = parseIntFlag(args.values.epochs, '--epochs', { min: 1 });
  const budgetTokens = parseIntFlag(args.values['budget-tokens'], '--budget-tokens', { min: 1 });
  if ([steps, epochs, budgetTokens].filter((v) => v !== undefined).length > 1) {
    throw new ApiError('invalid_argument', 'give only one of --steps, --epochs or --budget-tokens', { field: '--steps' });
  }
  return { steps, epochs, budgetTokens };
}

/** Ctrl-C → abort; a second Ctrl-C exits at once. */
function cancelOnSigint(log: (m: string) => void): AbortController {
  const controller = new AbortController();
  process.once('SIGINT', () => {
    log('\ncancelling: the run stops after this step and keeps its checkpoint (Ctrl-C again to quit now)');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  return controller;
}

export const trainCommand: Command = {
  name: 'train',
  // Getters: the method names come from the registry when asked, so a registered method is listed too.
  get summary() {
    return `Fine-tune a model with one PEFT method (${METHOD_NAMES.join(', ')})`;
  },
  get usage() {
    return (
      `prefixlab train --model DIR --data FILE --method ${METHOD_NAMES.join('|')} [--set key=value …] [--steps N | --epochs N | --budget-tokens N] ` +
      '[--lr X] [--seed S] [--k-per-class K] [--eval-split F] [--eval-data FILE] [--recompute auto|on|off] [--quantized-base auto|on|off] [--data-parallel N] ' +
      `${ENGINE_USAGE} [--backend NAME] [--home DIR] [--json]`
    );
  },
  options: {
    ...COMMON_OPTIONS,
    method: { type: 'string' },
    seed: { type: 'string' },
    lr: { type: 'string' },
    recompute: { type: 'string' },
    'quantized-base': { type: 'string' },
    'data-parallel': { type: 'string' },
  },
  details: methodOptionsHelp,
  async run(args, io) {
    const app = await bootstrap(args);
    const set = parseSetFlags(args.values.set);
    // `--set lr=X` is the same as `--lr X`.
    if (args.values.lr !== undefined && set.lr !== undefined && Number(args.values.lr) !== Number(set.lr)) {
      throw new ApiError('invalid_argument', `--lr ${String(args.values.lr)} and --set lr=${set.lr} disagree; give one`, { field: '--lr' });
    }
    const lr = parseFloatFlag(args.values.lr ?? set.lr, args.values.lr !== undefined ? '--lr' : '--set lr');
    if (lr !== undefined && !(lr > 0))
      throw new ApiError('invalid_argument', `the learning rate must be positive, got ${lr}`, { field: args.values.lr !== undefined ? '--lr' : '--set lr' });
    delete set.lr;
    const { engine, torch } = engineFlags(args);
    const spec = runSpecFromFlags({
      engine,
      model: resolve(requireString(args.values.model, '--model')),
      data: resolve(requireString(args.values.data, '--data')),
      method: methodName(requireString(args.values.method, '--method'), '--method'),
      set,
      ...budget(args),
      seed: parseIntFlag(args.values.seed, '--seed') ?? 0,
      kPerClass: parseIntFlag(args.values['k-per-class'], '--k-per-class', { min: 1 }),
      evalSplit: parseFloatFlag(args.values['eval-split'], '--eval-split'),
      evalData: evalData(args),
      lr,
      recompute: args.values.recompute === undefined ? undefined : requireString(args.values.recompute, '--recompute'),
      quantizedBase: args.values['quantized-base'] === undefined ? undefined : requireString(args.values['quantized-base'], '--quantized-base'),
      dataParallel: parseIntFlag(args.values['data-parallel'], '--data-parallel', { min: 1, max: 64 }),
    });
    const controller = cancelOnSigint(io.log);
    const printer = createProgressPrinter();
    const result = await train({
      home: app.options.home,
      spec,
      torch,
      signal: controller.signal,
      onStart: ({ runId, totalSteps }) => io.log(`run ${runId}: ${totalSteps} steps`),
      onProgress: (p) => printer.update(describeProgress(p)),
      onLog: (message) => io.log(message),
    });
    printer.done();
    const final = result.final;
    const text = [
      `run ${result.runId} ${result.status}${result.reason ? ` (${result.reason})` : ''}: ${result.method}, ${result.trainableParams.toLocaleString('en-US')} trainable parameters, ${result.steps} steps at lr ${result.learningRate}`,
      `  train loss ${final.trainLoss?.toFixed(4) ?? '—'} · eval loss ${final.evalLoss?.toFixed(4) ?? '—'} · accuracy ${final.accuracy !== undefined && final.accuracy !== null ? (final.accuracy * 100).toFixed(1) + '%' : '—'} · ${result.tokensPerSecond.toFixed(0)} tok/s · peak ${(result.peakMemoryBytes / 2 ** 20).toFixed(1)} MiB`,
      ...(result.finalTest ? [`  eval data: ${describeMetrics(result.finalTest)}`] : []),
    ].join('\n');
    return { json: result, text, exitCode: result.status === 'failed' ? 1 : 0 };
  },
};

/** "loss 0.1234 · accuracy 75.0% · 8 examples" for a metrics block. */
function describeMetrics(m: { evalLoss: number | null; accuracy: number | null; evalExamples: number }): string {
  return `loss ${m.evalLoss?.toFixed(4) ?? '—'} · accuracy ${m.accuracy !== null ? (m.accuracy * 100).toFixed(1) + '%' : '—'} · ${m.evalExamples} examples`;
}

/** `--lr-per-method lora=3e-3,ptplus=1e-2`. */
function parseLrPerMethod(value: unknown): Partial<Record<MethodName, number>> | undefined {
  if (value === undefined) return undefined;
  const out: Partial<Record<MethodName, number>> = {};
  for (const pair of parseList(value) ?? []) {
    const [name, lr] = pair.split('=');
    out[methodName(String(name), '--lr-per-method')] = parseFloatFlag(lr, '--lr-per-method');
  }
  return out;
}

/**
 * `--lr-grid 1e-3,3e-3,1e-2` (every tuned method) and/or `--lr-grid lora=1e-3,3e-3` (one method; repeat the
 * flag per method). Rates must be positive numbers.
 */
export function parseLrGrid(values: unknown, methods: MethodName[]): Partial<Record<MethodName, number[]>> | undefined {
  const items = (values as string[] | undefined) ?? [];
  if (items.length === 0) return undefined;
  const out: Partial<Record<MethodName, number[]>> = {};
  const rates = (text: string): number[] =>
    (parseList(text) ?? []).map((part) => {
      const lr = parseFloatFlag(part, '--lr-grid') as number;
      if (!(lr > 0)) throw new ApiError('invalid_argument', `learning rates must be positive, got "${part}"`, { field: '--lr-grid' });
      return lr;
    });
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq > 0) {
      const method = methodName(item.slice(0, eq).trim(), '--lr-grid');
      if (!methods.includes(method)) throw new ApiError('invalid_argument', `--lr-grid ${item}: ${method} is not among --methods`, { field: '--lr-grid' });
      out[method] = rates(item.slice(eq + 1));
    } else {
      const grid = rates(item);
      for (const method of methods) out[method] ??= grid;
    }
    if (Object.values(out).some((grid) => grid !== undefined && grid.length === 0))
      throw new ApiError('invalid_argument', `--lr-grid "${item}" names no rate`, { field: '--lr-grid' });
  }
  return out;
}

/**
 * `--tune-lr [--lr-grid …] [--tune-steps N] [--tune-val F|N] [--tune-seeds 1,2]` → the service's tuneLr;
 * `--tune-only` tunes and stops (implies --tune-lr).
 */
function tuneLrOptions(args: ParsedArgs, methods: MethodName[]): TuneLrRequest | undefined {
  const grid = parseLrGrid(args.values['lr-grid'], methods);
  const steps = parseIntFlag(args.values['tune-steps'], '--tune-steps', { min: 1 });
  const valSplit = parseFloatFlag(args.values['tune-val'], '--tune-val');
  const seeds = parseIdList(args.values['tune-seeds'], '--tune-seeds');
  const only = args.values['tune-only'] === true;
  if (!args.values['tune-lr'] && !only) {
    const stray = [
      ['--lr-grid', grid],
      ['--tune-steps', steps],
      ['--tune-val', valSplit],
      ['--tune-seeds', seeds],
    ].find(([, v]) => v !== undefined);
    if (stray) throw new ApiError('invalid_argument', `${stray[0] as string} needs --tune-lr`, { field: stray[0] as string });
    return undefined;
  }
  if (valSplit !== undefined && !(valSplit > 0)) throw new ApiError('invalid_argument', `expected a share in (0, 1) or a count ≥ 1, got "${valSplit}"`, { field: '--tune-val' });
  return { grid, steps, valSplit, seeds, ...(only ? { only } : {}) };
}

export const compareCommand: Command = {
  name: 'compare',
  summary: 'Compare methods on the same frozen split, seeds and token budget; prints a table and writes JSON',
  get usage() {
    return (
      `prefixlab compare --model DIR --data FILE --methods M,M,… (M: ${METHOD_NAMES.join('|')}) [--seeds 1,2,3,4,5] [--k-per-class K] [--eval-split F] [--eval-data FILE] ` +
      '[--budget-tokens N | --steps N | --epochs N] [--set key=value …] [--set METHOD.key=value …] [--lr-per-method m=lr,…] ' +
      '[--tune-lr [--lr-grid r1,r2,… | --lr-grid METHOD=r1,r2,… …] [--tune-steps N] [--tune-val F|N] [--tune-seeds S,…] [--tune-only]] ' +
      `${ENGINE_USAGE} [--in-process] [--out FILE] [--json]`
    );
  },
  options: {
    ...COMMON_OPTIONS,
    methods: { type: 'string' },
    seeds: { type: 'string' },
    'lr-per-method': { type: 'string' },
    out: { type: 'string' },
    'tune-lr': { type: 'boolean' },
    'tune-only': { type: 'boolean' },
    'lr-grid': { type: 'string', multiple: true },
    'tune-steps': { type: 'string' },
    'tune-val': { type: 'string' },
    'tune-seeds': { type: 'string' },
    'in-process': { type: 'boolean' },
  },
  details: methodOptionsHelp,
  async run(args, io) {
    const app = await bootstrap(args);
    const methods = (parseList(requireString(args.values.methods, '--methods')) ?? []).map((m) => methodName(m, '--methods'));
    const seeds = parseIdList(args.values.seeds ?? '1', '--seeds')!;
    const { shared, perMethod, lrPerMethod } = splitPerMethod(parseSetFlags(args.values.set), methods);
    const explicitLr = { ...lrPerMethod, ...parseLrPerMethod(args.values['lr-per-method']) };
    const tuneLr = tuneLrOptions(args, methods);
    const { engine, torch } = engineFlags(args);
    const plan = comparePlanFromFlags({
      engine,
      model: resolve(requireString(args.values.model, '--model')),
      data: resolve(requireString(args.values.data, '--data')),
      methods,
      seeds,
      ...budget(args),
      kPerClass: parseIntFlag(args.values['k-per-class'], '--k-per-class', { min: 1 }),
      evalSplit: parseFloatFlag(args.values['eval-split'], '--eval-split'),
      evalData: evalData(args),
      lrPerMethod: explicitLr,
      tuneLr,
      set: shared,
      setPerMethod: perMethod,
    });
    const controller = cancelOnSigint(io.log);
    const printer = createProgressPrinter();
    let peakLr = 0;
    const result = await compare({
      home: app.options.home,
      plan,
      torch,
      // One process for every run: no per-run start-up (faster for many short runs), no isolation.
      isolate: args.values['in-process'] ? 'inline' : undefined,
      signal: controller.signal,
      onRunStart: ({ lr }) => {
        peakLr = lr;
      },
      onRunProgress: ({ method, seed, phase }, p) => printer.update(describeProgress(p, `${method} ${phase === 'tune' ? `tuning lr ${peakLr} ` : ''}seed ${seed} `)),
      onLog: (message) => io.log(message),
    });
    printer.done();
    const out = resolve((args.values.out as string | undefined) ?? join(app.options.home, 'comparisons', `compare-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    io.log(`wrote ${out}`);
    return { json: { ...result, outFile: out }, text: formatCompareTable(result.rows) };
  },
};

/** A learning-rate grid in one cell: "3e-3 58.3 · [1e-2 62.5] · 3e-2 50.0" (validation accuracy %, chosen rate bracketed). */
export function formatLrGrid(tuning: NonNullable<CompareRow['tuning']>): string {
  return tuning.grid
    .map((p) => {
      const score = p.valAccuracy !== null ? (p.valAccuracy * 100).toFixed(1) : p.valLoss !== null ? `loss ${p.valLoss.toFixed(3)}` : 'failed';
      const cell = `${p.lr} ${score}`;
      return p.lr === tuning.chosenLr ? `[${cell}]` : cell;
    })
    .join(' · ');
}

export function formatCompareTable(
  rows: (Pick<CompareRow, 'method' | 'trainableParams' | 'accuracyMean' | 'accuracyStd' | 'evalLoss' | 'tokensPerSecond' | 'peakMemoryBytes' | 'lr' | 'tuning' | 'options'> &
    Partial<Pick<CompareRow, 'testAccuracyMean' | 'testAccuracyStd'>>)[],
): string {
  const isTuned = rows.some((r) => r.tuning);
  // `--eval-data`: the test file's accuracy gets its own column.
  const isTested = rows.some((r) => r.testAccuracyMean !== undefined);
  const pct = (mean: number | null | undefined, std: number | null | undefined): string =>
    mean === null || mean === undefined ? '—' : `${(mean * 100).toFixed(1)} ± ${((std ?? 0) * 100).toFixed(1)}%`;
  const header = [
    'method',
    'trainable',
    isTuned ? 'lr (tuned)' : 'lr',
    'accuracy',
    ...(isTested ? ['test accuracy'] : []),
    'eval loss',
    'tok/s',
    'peak mem',
    ...(isTuned ? ['lr grid: val acc %'] : []),
  ];
  const body = rows.map((r) => [
    r.method +
      (r.options
        ? ` (${Object.entries(r.options)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(', ')})`
        : ''),
    r.trainableParams.toLocaleString('en-US'),
    String(r.lr),
    pct(r.accuracyMean, r.accuracyStd),
    ...(isTested ? [pct(r.testAccuracyMean, r.testAccuracyStd)] : []),
    r.evalLoss === null ? '—' : r.evalLoss.toFixed(4),
    r.tokensPerSecond.toFixed(0),
    `${(r.peakMemoryBytes / 2 ** 20).toFixed(1)} MiB`,
    ...(isTuned ? [r.tuning ? formatLrGrid(r.tuning) : 'fixed'] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 && isTuned ? c : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
