// training.*: what a training run reports while it runs (progress events), what it returns (the JSON of
// `prefixlab train --json` / `compare --json`) and the run manifest stored in <home>/runs/<runId>/.
// Plain zod: the renderer, the CLI and main share it.
import { z } from 'zod';
import { MethodNameSchema } from '../methods/method-name';
import { StoredRunSpecSchema } from '../run-spec';
import { ModelFormatSchema } from './calls/models';

// Any name of a method's shape: the list itself is the engine's registry (methods.list); handlers check names against it.
export { MethodNameSchema };

/** running → finished | cancelled | failed; 'interrupted' = the process died while the run was running. */
export const RunStatusSchema = z.enum(['running', 'finished', 'cancelled', 'failed', 'interrupted']);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const MemorySnapshotSchema = z.object({
  /** Live tfjs tensors. */
  numTensors: z.number().int(),
  /** Bytes held by live tfjs tensors. */
  numBytes: z.number(),
  /** Resident set size of the training process. */
  rssBytes: z.number(),
});
export type MemorySnapshot = z.infer<typeof MemorySnapshotSchema>;

/** One optimiser step of a run, sent after the step (and its evaluation, when one was due). */
export const TrainProgressSchema = z.object({
  runId: z.string(),
  /** Optimiser steps completed (1-based). */
  step: z.number().int(),
  totalSteps: z.number().int(),
  /** Epochs completed so far, fractional (1.5 = halfway through the second pass). */
  epoch: z.number(),
  /** Mean cross-entropy (nats/token) over the target tokens of this step's batch(es). */
  trainLoss: z.number(),
  /** Mean cross-entropy over the eval split's target tokens; only on steps that evaluated. */
  evalLoss: z.number().optional(),
  /** Label-likelihood accuracy on the eval split (classification data); only on steps that evaluated. */
  evalAccuracy: z.number().optional(),
  /** The same two on the run's test file (RunSpec data.evalPath, `--eval-data`); only on steps that evaluated. */
  testLoss: z.number().optional(),
  testAccuracy: z.number().optional(),
  /** Learning rate used for this step. */
  learningRate: z.number(),
  /** Global L2 norm of the gradient before clipping. */
  gradNorm: z.number(),
  /** Real (non-padding) tokens per second, over the last few steps. */
  tokensPerSecond: z.number(),
  /** Real tokens trained on so far. */
  tokensSeen: z.number().int(),
  /** Estimated seconds to the last step. */
  etaSeconds: z.number(),
  memory: MemorySnapshotSchema,
});
export type TrainProgress = z.infer<typeof TrainProgressSchema>;

/** Evaluation of a run on its eval split. Null where it does not apply (no labels, no eval split). */
export const FinalMetricsSchema = z.object({
  /** Train loss of the last step. */
  trainLoss: z.number().nullable(),
  evalLoss: z.number().nullable(),
  /** Label-likelihood accuracy: argmax over labels of the mean log-prob per token of each verbalisation. */
  accuracy: z.number().nullable(),
  /** label → accuracy on the eval examples of that label. */
  perClassAccuracy: z.record(z.string(), z.number()).nullable(),
  /** Labels in the order of the confusion matrix's rows (truth) and columns (prediction). */
  labels: z.array(z.string()).nullable(),
  confusion: z.array(z.array(z.number().int())).nullable(),
  /** Greedy generation vs target after trim, whitespace collapse and case-fold; null unless evalGenerate. */
  exactMatch: z.number().nullable().default(null),
  /** Eval examples scored. */
  evalExamples: z.number().int(),
});
export type FinalMetrics = z.infer<typeof FinalMetricsSchema>;

/** `prefixlab train --json` prints exactly this. */
export const TrainResultSchema = z.object({
  runId: z.string(),
  runDir: z.string(),
  status: RunStatusSchema,
  /** Why the run failed or was stopped; absent when finished. */
  reason: z.string().optional(),
  /** The registry adapter made from a finished run (trained tensors + provenance), ready to export. */
  adapterId: z.string().optional(),
  method: MethodNameSchema,
  /** Every method option, defaults filled in. */
  options: z.record(z.string(), z.unknown()),
  /** Every trainer option (batching, optimiser, schedule, …), defaults filled in. */
  trainer: z.record(z.string(), z.unknown()),
  learningRate: z.number(),
  seed: z.number().int(),
  backend: z.string(),
  trainableParams: z.number().int(),
  /** Optimiser steps completed. */
  steps: z.number().int(),
  totalSteps: z.number().int(),
  tokensSeen: z.number().int(),
  /** Real tokens per second over the whole run (evaluation time excluded). */
  tokensPerSecond: z.number(),
  /** Peak bytes held by tfjs tensors, sampled after each forward pass (activations live). */
  peakMemoryBytes: z.number(),
  /** Peak resident set size of the training process. */
  peakRssBytes: z.number(),
  wallSeconds: z.number(),
  /** Processes that shared each step's rows (trainer option dataParallel, where the run could have them); absent: one. */
  processes: z.number().int().min(2).optional(),
  /** Folder of the last complete checkpoint, or null. */
  checkpoint: z.string().nullable(),
  /** The held-out split's metrics; with a test file and nothing held out (evalSplit 0), the test file's. */
  final: FinalMetricsSchema,
  /** The test file's metrics (RunSpec data.evalPath, `--eval-data`); absent without one. */
  finalTest: FinalMetricsSchema.optional(),
});
export type TrainResult = z.infer<typeof TrainResultSchema>;

/**
 * Per-method learning-rate tuning of a comparison (`prefixlab compare --tune-lr`, services/training/compare.ts's ComparePlan
 * tuneLr): a validation split is carved out of the training pool (never the eval/test split), each method trains
 * over its grid, and the rate with the best validation accuracy (ties → lower validation loss) runs every seed.
 */
export const TuneLrRequestSchema = z
  .object({
    /** Rates per method; a method left out uses its default grid (PT+ 3e-3…3e-2, LoRA 1e-3…1e-2, prefix 1e-4…3e-3, prompt 3e-2…3e-1, full 3e-5…3e-4). */
    grid: z.partialRecord(MethodNameSchema, z.array(z.number().positive().max(10)).min(1).max(12)).optional(),
    /** Optimiser steps of each tuning run (default: the seeds' own steps/epochs/token budget). */
    steps: z.number().int().min(1).max(1_000_000).optional(),
    /** Validation share (< 1) or count (≥ 1, spread over labels) carved from the training pool; default 0.2. */
    valSplit: z.number().positive().optional(),
    /** Training seeds of the tuning runs, whose validation metrics are averaged (default: the first seed). */
    seeds: z.array(z.number().int().min(0)).min(1).max(10).optional(),
    /**
     * Tune and stop: no final runs. Each row then describes its chosen rate's tuning runs (accuracy = validation
     * accuracy). For probing a grid's edge cheaply: one more rate, scored on the same validation split.
     */
    only: z.boolean().optional(),
  })
  .strict();
export type TuneLrRequest = z.infer<typeof TuneLrRequestSchema>;

/** One learning rate of a method's tuning grid, scored on the validation split carved from the training pool. */
export const LrGridPointSchema = z.object({
  lr: z.number(),
  /** Validation accuracy (mean over the tuning seeds); null without labels or when every run failed. */
  valAccuracy: z.number().nullable(),
  /** Validation loss (mean NLL per target token, mean over the tuning seeds). */
  valLoss: z.number().nullable(),
  /** Tuning runs at this rate that did not finish. */
  failedRuns: z.number().int(),
  /** The tuning runs (kept in the runs store, not registered as adapters). */
  runIds: z.array(z.string()),
});
export type LrGridPoint = z.infer<typeof LrGridPointSchema>;

/** How a compare row's learning rate was chosen (with tuneLr). */
export const LrTuningSchema = z.object({
  /** The rate the seeds ran at: best valAccuracy, ties → lower valLoss (the method's default when every point failed). */
  chosenLr: z.number(),
  grid: z.array(LrGridPointSchema),
});
export type LrTuning = z.infer<typeof LrTuningSchema>;

/** One method's mean over seeds in `prefixlab compare --json`. */
export const CompareRowSchema = z.object({
  method: MethodNameSchema,
  trainableParams: z.number().int(),
  accuracyMean: z.number().nullable(),
  /** Sample standard deviation over seeds (0 with one seed). */
  accuracyStd: z.number().nullable(),
  evalLoss: z.number().nullable(),
  tokensPerSecond: z.number(),
  peakMemoryBytes: z.number(),
  /** Mean wall time of one run. */
  wallSeconds: z.number(),
  lr: z.number(),
  /** Runs that did not finish (failed: NaN loss, …). */
  failedRuns: z.number().int(),
  /** Present when the rate was tuned (compare with tuneLr): the grid and the chosen rate (= lr). */
  tuning: LrTuningSchema.optional(),
  /** Method options that differ from the method's defaults (e.g. {phiCenter: 'data-mean'}), to tell rows apart. */
  options: z.record(z.string(), z.unknown()).optional(),
  /** With a test file (`--eval-data`): mean and sample std of its accuracy, and mean test loss, over the finished seeds. */
  testAccuracyMean: z.number().nullable().optional(),
  testAccuracyStd: z.number().nullable().optional(),
  testEvalLoss: z.number().nullable().optional(),
});
export type CompareRow = z.infer<typeof CompareRowSchema>;

export const CompareResultSchema = z.object({
  rows: z.array(CompareRowSchema),
  runs: z.array(TrainResultSchema),
  seeds: z.array(z.number().int()),
  /** Steps every run trained for (from budgetTokens when given). */
  steps: z.number().int(),
  budgetTokens: z.number().int().nullable(),
  evalExamples: z.number().int(),
  /** Present with tuneLr: the validation split the rates were chosen on (never the eval/test split). */
  tuning: z
    .object({
      /** Validation ids, carved from the training pool (stratified, seeded from splitSeed through deriveSeed(splitSeed, "split/validation")). */
      valIds: z.array(z.string()),
      /** Training pool the tuning runs drew their (k-shot) training sets from: the pool minus valIds. */
      trainPoolSize: z.number().int(),
      /** Steps of every tuning run (null: the same budget as the seeds' runs). */
      steps: z.number().int().nullable(),
      /** Training seeds of the tuning runs (metrics are averaged over them). */
      seeds: z.array(z.number().int()),
      splitSeed: z.number().int(),
    })
    .optional(),
});
export type CompareResult = z.infer<typeof CompareResultSchema>;

// ---- run manifest (<home>/runs/<runId>/manifest.json) ----

export const FileHashSchema = z.object({ path: z.string(), sha256: z.string(), bytes: z.number().int() });

export const CheckpointEntrySchema = z.object({
  step: z.number().int(),
  /** Folder relative to the run folder (checkpoints/step-000010). */
  dir: z.string(),
  createdAt: z.string(),
  trainLoss: z.number().nullable(),
});
export type CheckpointEntry = z.infer<typeof CheckpointEntrySchema>;

export const RunManifestSchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  status: RunStatusSchema,
  reason: z.string().optional(),
  method: MethodNameSchema,
  methodOptions: z.record(z.string(), z.unknown()),
  trainer: z.record(z.string(), z.unknown()),
  learningRate: z.number(),
  seed: z.number().int(),
  backend: z.string(),
  appVersion: z.string(),
  /** Process that runs (ran) the training, to detect a dead run on start-up. */
  pid: z.number().int(),
  /** That process's start time (clock ticks since boot, Linux /proc), so a reused pid is not taken for it. */
  pidStartTime: z.number().int().optional(),
  hostname: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  baseModel: z.object({
    path: z.string(),
    /** How the base was read (a GGUF file: dequantized to float32); runs recorded before it have none. */
    format: ModelFormatSchema.optional(),
    architecture: z.string(),
    parameters: z.number().int(),
    files: z.array(FileHashSchema),
    /** Whether the GGUF base's quantized layer matrices stayed compact, dequantized per step (trainer quantizedBase); runs recorded before it have none. */
    quantizedBase: z.boolean().optional(),
  }),
  dataset: z.object({
    path: z.string(),
    sha256: z.string(),
    kPerClass: z.number().int().nullable(),
    /** Split seed: the eval split is the same for every training seed. */
    splitSeed: z.number().int(),
    trainIds: z.array(z.string()),
    evalIds: z.array(z.string()),
    /** The test file (`--eval-data`): scored, never trained on; its examples as read with the training data's mapping. */
    evalData: z.object({ path: z.string(), sha256: z.string(), examples: z.number().int() }).optional(),
  }),
  trainableParams: z.number().int(),
  totalSteps: z.number().int(),
  /** Latest step reached. */
  step: z.number().int(),
  checkpoints: z.array(CheckpointEntrySchema),
  final: FinalMetricsSchema.optional(),
  /** The test file's metrics (dataset.evalData). */
  finalTest: FinalMetricsSchema.optional(),
  result: z
    .object({
      tokensPerSecond: z.number(),
      peakMemoryBytes: z.number(),
      peakRssBytes: z.number(),
      wallSeconds: z.number(),
      tokensSeen: z.number().int(),
      /** Processes that shared each step's rows (dataParallel); absent: one. */
      processes: z.number().int().min(2).optional(),
    })
    .optional(),
  /** The run as it was asked for (src/shared/run-spec.ts); runs started before it existed have none. */
  runSpec: StoredRunSpecSchema.optional(),
});
export type RunManifest = z.infer<typeof RunManifestSchema>;
