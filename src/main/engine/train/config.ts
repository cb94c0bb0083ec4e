// Trainer options (batching, optimiser, schedule, evaluation, checkpoints) with defaults and one-line docs,
// and the parsing of `--set key=value` strings into trainer and method options.
import { z } from 'zod';
import { ApiError, zodIssueError } from '@shared/errors';

export const trainerOptions = z.object({
  batchSize: z.number().int().min(1).default(8).describe('Examples per batch (ignored when batchTokens is set)'),
  batchTokens: z.number().int().min(2).nullable().default(null).describe('Padded-token budget per batch (rows × longest row); examples are packed by length. null: use batchSize'),
  gradAccumulation: z.number().int().min(1).default(1).describe('Batches whose gradients are summed into one optimiser step'),
  maxLength: z.number().int().min(2).default(256).describe('Longest example in tokens; longer ones lose prompt tokens from the left (the target is kept)'),
  addEos: z
    .boolean()
    .default(true)
    .describe("Append the model's EOS token to completion, instruction, chat and text targets (trains the model to stop); labelled (classification) targets never get it"),
  schedule: z.enum(['constant', 'cosine', 'linear']).default('cosine').describe('Learning-rate decay after warm-up'),
  warmupSteps: z.number().int().min(0).nullable().default(null).describe('Linear warm-up steps (null: 5% of the steps)'),
  minLrRatio: z.number().min(0).max(1).default(0).describe('Final learning rate as a fraction of the peak'),
  weightDecay: z.number().min(0).default(0.01).describe('Decoupled AdamW weight decay λ (not applied to biases, norms or rank-1 tensors)'),
  beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW β1'),
  beta2: z.number().min(0).lt(1).default(0.999).describe('AdamW β2'),
  epsilon: z.number().gt(0).default(1e-8).describe('AdamW ε'),
  clipNorm: z.number().min(0).default(1).describe('Clip the gradient to this global L2 norm (0: no clipping; the norm is reported either way)'),
  evalEvery: z.number().int().min(0).nullable().default(null).describe('Evaluate every N steps (null: about 10 times per run; 0: only at the end)'),
  checkpointEvery: z.number().int().min(0).default(100).describe('Write a checkpoint every N steps (0: only at the end)'),
  keepCheckpoints: z.number().int().min(0).default(3).describe('Checkpoints kept on disk, newest first (0: keep all)'),
  evalBatchSize: z.number().int().min(1).default(16).describe('Examples per batch when evaluating'),
  maxEvalExamples: z.number().int().min(1).default(256).describe('Eval examples scored during training (the first N of the eval split)'),
  evalGenerate: z.boolean().default(false).describe('At the end, also generate greedily for the eval examples and report exact match (trimmed, whitespace-collapsed, case-folded)'),
  splitSeed: z.number().int().default(0).describe('Seed of the train/eval split (fixed across training seeds so comparisons share one split)'),
});

export type TrainerOptions = z.output<typeof trainerOptions>;

/** Everything the training loop needs beyond the trainer options. */
export interface TrainerPlan extends TrainerOptions {
  learningRate: number;
  totalSteps: number;
  seed: number;
}

/** The warm-up steps a plan uses (5% of the steps when not set). */
export function resolvedWarmup(options: Pick<TrainerOptions, 'warmupSteps'>, totalSteps: number): number {
  return options.warmupSteps ?? Math.ceil(totalSteps * 0.05);
}

/** Steps between evaluations (0 = only at the end). */
export function resolvedEvalEvery(options: Pick<TrainerOptions, 'evalEvery'>, totalSteps: number): number {
  return options.evalEvery ?? Math.max(1, Math.round(totalSteps / 10));
}

// ---- --set key=value ----

type AnySchema = z.ZodType;

/** The innermost schema under optional/default/nullable wrappers, and whether null is allowed. */
function baseOf(schema: AnySchema): { kind: string; isNullable: boolean } {
  let current = schema as unknown as { _zod: { def: { type: string; innerType?: AnySchema } } };
  let isNullable = false;
  while (['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch'].includes(current._zod.def.type)) {
    if (current._zod.def.type === 'nullable') isNullable = true;
    current = current._zod.def.innerType as unknown as typeof current;
  }
  return { kind: current._zod.def.type, isNullable };
}

/** Converts one `--set` string to the type its field expects (numbers, booleans, null, lists). */
function coerce(raw: string, schema: AnySchema): unknown {
  const { kind, isNullable } = baseOf(schema);
  const text = raw.trim();
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
    if (!explicitTrainer && Object.hasOwn(methodShape, name)) method[name] = coerce(raw, methodShape[name]);
    else if (Object.hasOwn(trainerShape, name)) trainer[name] = coerce(raw, trainerShape[name]);
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

/** Parses with `schema`, turning the first zod issue into an ApiError naming the field. */
export function parseOptions<S extends AnySchema>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw zodIssueError(result.error, 'invalid_argument', `${what} option`);
}
