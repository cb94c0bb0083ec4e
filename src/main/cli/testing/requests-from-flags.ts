// Tests (engine, services, fuzz) describe runs as `prefixlab` does, in flags and `--set` strings; these turn such a
// description into the typed requests the engine and the services take, through the CLI's own mapping
// (../run-spec-flags.ts), so a test reads as the command line it stands for.
import { runTrainJob, type TrainJobSpec } from '../../engine/train/job';
import { compare, type CompareRequest } from '../../services/training/compare';
import { train, type TrainRequest } from '../../services/training/train';
import { storiesHf } from '../../engine/train/test-fixtures';
import { comparePlanFromFlags, runSpecFromFlags, type CompareFlags, type RunFlags } from '../run-spec-flags';

const RUN_FLAGS = ['model', 'data', 'method', 'set', 'steps', 'epochs', 'budgetTokens', 'seed', 'kPerClass', 'evalSplit', 'split', 'lr', 'evalData'] as const;
const COMPARE_FLAGS = [
  'model',
  'data',
  'methods',
  'seeds',
  'set',
  'setPerMethod',
  'lrPerMethod',
  'steps',
  'epochs',
  'budgetTokens',
  'kPerClass',
  'evalSplit',
  'split',
  'tuneLr',
  'evalData',
] as const;

function pick<T extends object>(value: T, keys: readonly string[]): { picked: Record<string, unknown>; rest: Record<string, unknown> } {
  const picked: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) (keys.includes(key) ? picked : rest)[key] = v;
  return { picked, rest };
}

/** A training job for runTrainJob; a resume carries no spec (the run's manifest has it). */
export function jobSpecFromFlags(flags: RunFlags & Omit<TrainJobSpec, 'runSpec'>): TrainJobSpec {
  const { picked, rest } = pick(flags, RUN_FLAGS);
  return flags.resume ? (rest as unknown as TrainJobSpec) : { ...(rest as unknown as TrainJobSpec), runSpec: runSpecFromFlags(picked as unknown as RunFlags) };
}

/** A request for the training service's train(). */
export function trainRequestFromFlags(flags: RunFlags & Omit<TrainRequest, 'spec'>): TrainRequest {
  const { picked, rest } = pick(flags, RUN_FLAGS);
  return { ...(rest as unknown as TrainRequest), spec: runSpecFromFlags(picked as unknown as RunFlags) };
}

/** A request for the comparison orchestrator (compare / runComparison). */
export function compareRequestFromFlags(flags: CompareFlags & Omit<CompareRequest, 'plan'>): CompareRequest {
  const { picked, rest } = pick(flags, COMPARE_FLAGS);
  return { ...(rest as unknown as CompareRequest), plan: comparePlanFromFlags(picked as unknown as CompareFlags) };
}

/** The flags of one training job (jobSpecFromFlags's argument). */
export type JobFlags = Parameters<typeof jobSpecFromFlags>[0];

/** runTrainJob, described in flags. */
export async function runTrainJobFromFlags(flags: JobFlags, io: Parameters<typeof runTrainJob>[1]): ReturnType<typeof runTrainJob> {
  return runTrainJob(jobSpecFromFlags(flags), io);
}

/** The training service's train(), described in flags. */
export async function trainFromFlags(flags: Parameters<typeof trainRequestFromFlags>[0]): ReturnType<typeof train> {
  return train(trainRequestFromFlags(flags));
}

/** The comparison orchestrator's compare(), described in flags. */
export async function compareFromFlags(flags: Parameters<typeof compareRequestFromFlags>[0]): ReturnType<typeof compare> {
  return compare(compareRequestFromFlags(flags));
}

/**
 * A three-step stories260K job on the weather data (writeWeatherData) with `dataParallel` processes: batch 4,
 * 32 tokens, no warm-up, no evaluation or checkpoint before the end (the data-parallel tests). `set` adds flags.
 */
export function dataParallelJobFlags(
  where: Pick<JobFlags, 'home' | 'data'> & Partial<Pick<JobFlags, 'runId' | 'backend'>>,
  method: string,
  dataParallel: number,
  seed: number,
  set: Record<string, string> = {},
): JobFlags {
  return {
    ...where,
    model: storiesHf,
    method,
    seed,
    steps: 3,
    evalSplit: 2,
    lr: 0.05,
    set: {
      'train.batchSize': '4',
      'train.maxLength': '32',
      'train.warmupSteps': '0',
      'train.evalEvery': '0',
      'train.checkpointEvery': '0',
      'train.dataParallel': String(dataParallel),
      ...set,
    },
  };
}
