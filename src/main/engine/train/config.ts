// What the training loop needs beyond the trainer's options (their schema is src/shared/trainer-options.ts, part
// of the RunSpec): the plan of one run, the warm-up and evaluation cadence it resolves to, and option parsing that
// names the bad field.
import type { z } from 'zod';
import { zodIssueError } from '@shared/errors';
import type { TrainerOptions } from '@shared/trainer-options';

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

type AnySchema = z.ZodType;

/** Parses with `schema`, turning the first zod issue into an ApiError naming the field. */
export function parseOptions<S extends AnySchema>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw zodIssueError(result.error, 'invalid_argument', `${what} option`);
}
