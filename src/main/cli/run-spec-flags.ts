// The CLI's flags → RunSpec (src/shared/run-spec.ts): `--set key=value` strings become typed method and trainer
// options here, and nowhere else. `train.key` is always the trainer's; a bare key goes to the method when its
// schema has it, else to the trainer; `splitSeed` is the split's seed; `lr` is the peak learning rate. For
// compare, `--set METHOD.key=value` goes to that method only (and `METHOD.lr` fixes its rate).
import type { z } from 'zod';
import { ApiError } from '@shared/errors';
import type { RunSpec, RunSpecInput, TrainerSpec } from '@shared/run-spec';
import { trainerOptions } from '@shared/trainer-options';
import type { TuneLrRequest } from '@shared/contract/training';
import type { MethodName } from '../engine/methods/method';
import { getMethod, isMethodName } from '../engine/methods/registry';
import { parseRunSpec } from '../engine/train/run-spec';
import type { ComparePlan, MethodRun } from '../services/training/compare';
import { parseFloatFlag } from './parse';

type AnySchema = z.ZodType;

/** The innermost schema under optional/default/nullable wrappers, and whether null is allowed. */
function baseOf(schema: AnySchema): { kind: string; isNullable: boolean; options?: AnySchema[] } {
  let current = schema as unknown as { _zod: { def: { type: string; innerType?: AnySchema; options?: AnySchema[] } } };
  let isNullable = false;
  while (['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch'].includes(current._zod.def.type)) {
    if (current._zod.def.type === 'nullable') isNullable = true;
    current = current._zod.def.innerType as unknown as typeof current;
  }
  return { kind: current._zod.def.type, isNullable, options: current._zod.def.options };
}

/** Converts one `--set` string to the type its field expects (numbers, booleans, null, lists). */
export function coerceSetValue(raw: string, schema: AnySchema): unknown {
  const { kind, isNullable, options } = baseOf(schema);
  const text = raw.trim();
  // A union (LoRA's targets: 'default' | 'all-linear' | a list of names) takes the first branch the value fits.
  if (kind === 'union' && options) {
    for (const option of options) {
      const value = coerceSetValue(raw, option);
      if (option.safeParse(value).success) return value;
    }
    return raw;
  }
  if (isNullable && (text === 'null' || text === 'none' || text === '')) return null;
  switch (kind) {
    case 'number':
    case 'int':
      return text === '' ? NaN : Number(text);
    case 'boolean':
      if (['true', '1', 'yes', 'on'].includes(text.toLowerCase())) return true;
      if (['false', '0', 'no', 'off'].includes(text.toLowerCase())) return false;
      return text;
    case 'array':
      if (text.startsWith('[')) {
        try {
          return JSON.parse(text);
        } catch {
          return text;
        }
      }
      return text === ''
        ? []
        : text.split(',').map((part) => {
            const item = part.trim();
            return item !== '' && Number.isFinite(Number(item)) ? Number(item) : item;
          });
    case 'string':
    case 'enum':
    case 'literal':
      return raw;
    default:
      try {
        return JSON.parse(text);
      } catch {
        return raw;
      }
  }
}

/**
 * Splits `--set` pairs between the method's options and the trainer's: `train.key` is always the trainer's,
 * a bare key goes to the method when its schema has it, else to the trainer. Unknown keys fail listing the
 * valid ones. Values are coerced to each field's type; validation (with defaults) is left to the schemas.
 */
export function splitSettings(set: Record<string, string>, methodSchema: z.ZodObject, methodName: string): { method: Record<string, unknown>; trainer: Record<string, unknown> } {
  const methodShape = methodSchema.shape as Record<string, AnySchema>;
  const trainerShape = trainerOptions.shape as Record<string, AnySchema>;
  const method: Record<string, unknown> = {};
  const trainer: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(set)) {
    const explicitTrainer = key.startsWith('train.');
    const name = explicitTrainer ? key.slice('train.'.length) : key;
    if (!explicitTrainer && Object.hasOwn(methodShape, name)) method[name] = coerceSetValue(raw, methodShape[name]);
    else if (Object.hasOwn(trainerShape, name)) trainer[name] = coerceSetValue(raw, trainerShape[name]);
    else {
      throw new ApiError(
        'invalid_argument',
        `unknown option "${key}" (${methodName} options: ${Object.keys(methodShape).join(', ')}; trainer options: ${Object.keys(trainerShape).join(', ')})`,
        { field: key },
      );
    }
  }
  return { method, trainer };
}

/** The flags of `prefixlab train` (and of one compare run), already read from argv. */
export interface RunFlags {
  model: string;
  data: string;
  method: MethodName;
  /** `--set key=value` pairs (no `lr`: that is `lr`). */
  set?: Record<string, string>;
  steps?: number;
  epochs?: number;
  budgetTokens?: number;
  seed?: number;
  kPerClass?: number;
  /** Share (< 1) or count (≥ 1) held out for eval (default 0.2); ignored with `split`. */
  evalSplit?: number;
  /** A frozen split to use as is. */
  split?: { trainIds: string[]; evalIds: string[] };
  lr?: number;
  /**
   * `--eval-data FILE`: the user's own test file, scored at evalEvery and at the end, never trained on. Without
   * `--eval-split` (or a frozen split) nothing of the training file is held out: evalSplit 0.
   */
  evalData?: string;
  /** `--recompute auto|on|off`: the trainer's recompute option (wins over `--set recompute=`). */
  recompute?: string;
  /** `--quantized-base auto|on|off`: the trainer's quantizedBase option (wins over `--set quantizedBase=`). */
  quantizedBase?: string;
  /** `--data-parallel N`: the trainer's dataParallel option (wins over `--set dataParallel=`). */
  dataParallel?: number;
  /** `--engine tfjs|torch`: the training engine (default tfjs). */
  engine?: string;
}

const ENGINES = ['tfjs', 'torch'] as const;

/** `--engine NAME` checked against the engines there are. */
export function engineFlag(value: string | undefined): (typeof ENGINES)[number] | undefined {
  if (value === undefined) return undefined;
  if (!(ENGINES as readonly string[]).includes(value)) throw new ApiError('invalid_argument', `use ${ENGINES.join(' or ')}, got "${value}"`, { field: '--engine' });
  return value as (typeof ENGINES)[number];
}

/** The RunSpec input of `flags`, before the schema fills defaults (trainer: the method's run-time split seed apart). */
function runSpecInput(flags: RunFlags): RunSpecInput {
  const { method, trainer } = splitSettings(flags.set ?? {}, getMethod(flags.method).options, flags.method);
  const { splitSeed, ...trainerRest } = trainer;
  if (flags.recompute !== undefined) {
    const modes = trainerOptions.shape.recompute.removeDefault().options;
    if (!(modes as readonly string[]).includes(flags.recompute))
      throw new ApiError('invalid_argument', `--recompute ${flags.recompute}: use ${modes.join(', ')}`, { field: '--recompute' });
    trainerRest.recompute = flags.recompute;
  }
  if (flags.quantizedBase !== undefined) {
    const modes = trainerOptions.shape.quantizedBase.removeDefault().options;
    if (!(modes as readonly string[]).includes(flags.quantizedBase))
      throw new ApiError('invalid_argument', `--quantized-base ${flags.quantizedBase}: use ${modes.join(', ')}`, { field: '--quantized-base' });
    trainerRest.quantizedBase = flags.quantizedBase;
  }
  if (flags.dataParallel !== undefined) trainerRest.dataParallel = flags.dataParallel;
  const budget = { steps: flags.steps, epochs: flags.epochs, budgetTokens: flags.budgetTokens, learningRate: flags.lr };
  const engine = engineFlag(flags.engine);
  return {
    ...(engine ? { engine } : {}),
    model: { path: flags.model },
    data: {
      path: flags.data,
      split: {
        ...(splitSeed !== undefined ? { seed: splitSeed as number } : {}),
        ...(flags.evalSplit !== undefined ? { evalSplit: flags.evalSplit } : flags.evalData !== undefined && !flags.split ? { evalSplit: 0 } : {}),
        ...(flags.kPerClass !== undefined ? { kPerClass: flags.kPerClass } : {}),
        ...(flags.split ? { frozen: flags.split } : {}),
      },
      ...(flags.evalData !== undefined ? { evalPath: flags.evalData } : {}),
    },
    method: { name: flags.method, options: method },
    trainer: { ...trainerRest, ...Object.fromEntries(Object.entries(budget).filter(([, v]) => v !== undefined)) } as RunSpecInput['trainer'],
    seed: flags.seed ?? 0,
  };
}

/** `prefixlab train`'s flags as a checked RunSpec (defaults filled in). */
export function runSpecFromFlags(flags: RunFlags): RunSpec {
  return parseRunSpec(runSpecInput(flags));
}

/**
 * `--set lora.rank=4` goes to LoRA only; `--set batchSize=4` to every run; `--set lora.lr=3e-3` is the same as
 * `--lr-per-method lora=3e-3` (and a bare `--set lr=X` gives every method that rate).
 */
export function splitPerMethod(set: Record<string, string>, methods: MethodName[]) {
  const shared: Record<string, string> = {};
  const perMethod: Partial<Record<MethodName, Record<string, string>>> = {};
  const lrPerMethod: Partial<Record<MethodName, number>> = {};
  for (const [key, value] of Object.entries(set)) {
    const dot = key.indexOf('.');
    const prefix = dot > 0 ? key.slice(0, dot) : '';
    if (isMethodName(prefix)) {
      if (!methods.includes(prefix)) throw new ApiError('invalid_argument', `--set ${key}: ${prefix} is not among --methods`, { field: '--set' });
      const name = key.slice(dot + 1);
      if (name === 'lr') lrPerMethod[prefix] = parseFloatFlag(value, `--set ${key}`) as number;
      else (perMethod[prefix] ??= {})[name] = value;
    } else if (key === 'lr') {
      for (const method of methods) lrPerMethod[method] ??= parseFloatFlag(value, '--set lr') as number;
    } else shared[key] = value;
  }
  return { shared, perMethod, lrPerMethod };
}

/** `prefixlab compare`'s flags, read from argv and split per method. */
export interface CompareFlags extends Omit<RunFlags, 'method' | 'set' | 'seed' | 'lr'> {
  methods: MethodName[];
  seeds: number[];
  /** Trainer options shared by every run (bare or as train.key). */
  set?: Record<string, string>;
  /** Method options (or trainer options for that method only) per method. */
  setPerMethod?: Partial<Record<MethodName, Record<string, string>>>;
  lrPerMethod?: Partial<Record<MethodName, number>>;
  tuneLr?: TuneLrRequest;
}

/** `prefixlab compare`'s flags as a typed ComparePlan, every method's run spec checked up front. */
export function comparePlanFromFlags(flags: CompareFlags): ComparePlan {
  if (flags.methods.length === 0) throw new ApiError('invalid_argument', 'compare needs at least one method', { field: 'methods' });
  // Shared `set` keys are trainer options: prefix them so a method never claims one.
  const shared = Object.fromEntries(Object.entries(flags.set ?? {}).map(([k, v]) => [k.startsWith('train.') ? k : `train.${k}`, v]));
  const first = runSpecFromFlags({ ...flags, method: flags.methods[0], set: shared });
  const base: ComparePlan['base'] = { version: first.version, engine: first.engine, model: first.model, data: first.data, trainer: first.trainer };
  const methods = flags.methods.map((name): MethodRun => {
    const spec = runSpecFromFlags({ ...flags, method: name, set: { ...shared, ...(flags.setPerMethod?.[name] ?? {}) } });
    const lr = flags.lrPerMethod?.[name];
    return {
      name,
      options: spec.method.options,
      ...(JSON.stringify(spec.trainer) !== JSON.stringify(base.trainer) ? { trainer: spec.trainer as TrainerSpec } : {}),
      ...(lr !== undefined ? { learningRate: lr } : {}),
    };
  });
  return { base, methods, seeds: flags.seeds, ...(flags.tuneLr ? { tuneLr: flags.tuneLr } : {}) };
}
