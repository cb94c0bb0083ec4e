// `prefixlab train` and `prefixlab compare`: one method, or several on the same frozen split, seeds and
// token budget. Ctrl-C cancels: the run stops after the current step and keeps its last checkpoint.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import type { MethodName } from '../../engine/methods/method';
import type { Command, OptionSpec, ParsedArgs } from '../command';
import { bootstrap } from '../bootstrap';
import { parseFloatFlag, parseIdList, parseIntFlag, parseList, parseSetFlags, requireString } from '../parse';
import { createProgressPrinter, describeProgress } from '../progress-line';
import { compare, train } from '../../services/training-service';
import { isMethodName, METHOD_NAMES } from '../../engine/methods/registry';

const COMMON_OPTIONS: OptionSpec = {
  model: { type: 'string' },
  data: { type: 'string' },
  set: { type: 'string', multiple: true },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  'budget-tokens': { type: 'string' },
  'k-per-class': { type: 'string' },
  'eval-split': { type: 'string' },
};

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
  summary: 'Fine-tune a model with one PEFT method (ptplus, prefix, prompt, lora, full)',
  usage:
    'prefixlab train --model DIR --data FILE --method ptplus|prefix|prompt|lora|full [--set key=value …] [--steps N | --epochs N | --budget-tokens N] [--lr X] [--seed S] [--k-per-class K] [--eval-split F] [--backend NAME] [--home DIR] [--json]',
  options: { ...COMMON_OPTIONS, method: { type: 'string' }, seed: { type: 'string' }, lr: { type: 'string' } },
  async run(args, io) {
    const app = await bootstrap(args);
    const set = parseSetFlags(args.values.set);
    // `--set lr=X` is the same as `--lr X`.
    const lr = parseFloatFlag(args.values.lr ?? set.lr, args.values.lr !== undefined ? '--lr' : 'lr');
    delete set.lr;
    const controller = cancelOnSigint(io.log);
    const printer = createProgressPrinter();
    const result = await train({
      home: app.options.home,
      model: resolve(requireString(args.values.model, '--model')),
      data: resolve(requireString(args.values.data, '--data')),
      method: methodName(requireString(args.values.method, '--method'), '--method'),
      set,
      ...budget(args),
      seed: parseIntFlag(args.values.seed, '--seed') ?? 0,
      kPerClass: parseIntFlag(args.values['k-per-class'], '--k-per-class', { min: 1 }),
      evalSplit: parseFloatFlag(args.values['eval-split'], '--eval-split'),
      lr,
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
    ].join('\n');
    return { json: result, text, exitCode: result.status === 'failed' ? 1 : 0 };
  },
};

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

/** `--set lora.rank=4` goes to LoRA only; `--set batchSize=4` to every run. */
function splitPerMethod(set: Record<string, string>, methods: MethodName[]) {
  const shared: Record<string, string> = {};
  const perMethod: Partial<Record<MethodName, Record<string, string>>> = {};
  for (const [key, value] of Object.entries(set)) {
    const dot = key.indexOf('.');
    const prefix = dot > 0 ? key.slice(0, dot) : '';
    if (isMethodName(prefix)) {
      if (!methods.includes(prefix)) throw new ApiError('invalid_argument', `--set ${key}: ${prefix} is not among --methods`, { field: '--set' });
      (perMethod[prefix] ??= {})[key.slice(dot + 1)] = value;
    } else shared[key] = value;
  }
  return { shared, perMethod };
}

export const compareCommand: Command = {
  name: 'compare',
  summary: 'Compare methods on the same frozen split, seeds and token budget; prints a table and writes JSON',
  usage:
    'prefixlab compare --model DIR --data FILE --methods ptplus,prefix,prompt,lora [--seeds 1,2,3,4,5] [--k-per-class K] [--budget-tokens N | --steps N | --epochs N] [--set key=value …] [--set METHOD.key=value …] [--lr-per-method m=lr,…] [--out FILE] [--json]',
  options: { ...COMMON_OPTIONS, methods: { type: 'string' }, seeds: { type: 'string' }, 'lr-per-method': { type: 'string' }, out: { type: 'string' } },
  async run(args, io) {
    const app = await bootstrap(args);
    const methods = (parseList(requireString(args.values.methods, '--methods')) ?? []).map((m) => methodName(m, '--methods'));
    const seeds = parseIdList(args.values.seeds ?? '1', '--seeds')!;
    const { shared, perMethod } = splitPerMethod(parseSetFlags(args.values.set), methods);
    const controller = cancelOnSigint(io.log);
    const printer = createProgressPrinter();
    const result = await compare({
      home: app.options.home,
      model: resolve(requireString(args.values.model, '--model')),
      data: resolve(requireString(args.values.data, '--data')),
      methods,
      seeds,
      ...budget(args),
      kPerClass: parseIntFlag(args.values['k-per-class'], '--k-per-class', { min: 1 }),
      evalSplit: parseFloatFlag(args.values['eval-split'], '--eval-split'),
      lrPerMethod: parseLrPerMethod(args.values['lr-per-method']),
      set: shared,
      setPerMethod: perMethod,
      signal: controller.signal,
      onRunProgress: ({ method, seed }, p) => printer.update(describeProgress(p, `${method} seed ${seed} `)),
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

export function formatCompareTable(rows: { method: string; trainableParams: number; accuracyMean: number | null; accuracyStd: number | null; evalLoss: number | null; tokensPerSecond: number; peakMemoryBytes: number; lr: number }[]): string {
  const header = ['method', 'trainable', 'lr', 'accuracy', 'eval loss', 'tok/s', 'peak mem'];
  const body = rows.map((r) => [
    r.method,
    r.trainableParams.toLocaleString('en-US'),
    String(r.lr),
    r.accuracyMean === null ? '—' : `${(r.accuracyMean * 100).toFixed(1)} ± ${((r.accuracyStd ?? 0) * 100).toFixed(1)}%`,
    r.evalLoss === null ? '—' : r.evalLoss.toFixed(4),
    r.tokensPerSecond.toFixed(0),
    `${(r.peakMemoryBytes / 2 ** 20).toFixed(1)} MiB`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
