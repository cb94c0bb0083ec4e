// training.* as the workbench drives it: a comparison (methods × seeds on one model, dataset split and
// budget) becomes a queue of runs trained one at a time; progress streams as training.progress events and
// the queue as training.queue snapshots. Run manifests and metrics are the trainer's own shapes (../training.ts).
import { z } from 'zod';
import { call } from '../define';
import { trainerOptionsPatch } from '../../trainer-options';
import { MethodNameSchema, RunManifestSchema, TrainProgressSchema } from '../training';
import { DatasetIdSchema } from './datasets';
import { AdapterRefSchema, ModelIdSchema } from './models';

export const QueueItemStatusSchema = z.enum(['queued', 'starting', 'running', 'finished', 'cancelled', 'failed', 'interrupted', 'skipped']);
export type QueueItemStatus = z.infer<typeof QueueItemStatusSchema>;

export const QueueItemSchema = z.object({
  itemId: z.string(),
  comparisonId: z.string(),
  /** 'train' starts a new run; 'resume' continues runId from its newest checkpoint. */
  kind: z.enum(['train', 'resume']),
  method: MethodNameSchema,
  seed: z.number().int(),
  status: QueueItemStatusSchema,
  /** Set once the run folder exists. */
  runId: z.string().nullable(),
  /** Why it failed, in one line. */
  error: z.string().optional(),
  enqueuedAt: z.string(),
});
export type QueueItem = z.infer<typeof QueueItemSchema>;

export const MethodChoiceSchema = z.object({
  method: MethodNameSchema,
  /** Method options; missing ones take their defaults. */
  options: z.record(z.string(), z.unknown()).default({}),
  /** Peak learning rate; default: the method's own default. */
  learningRate: z.number().positive().max(10).optional(),
});

export const ComparisonSchema = z.object({
  comparisonId: z.string(),
  createdAt: z.string(),
  modelId: z.string(),
  modelName: z.string(),
  datasetId: z.string(),
  datasetName: z.string(),
  splitName: z.string(),
  /** The imported dataset scored as the runs' test file (training.start testDatasetId); absent without one. */
  testDatasetId: z.string().optional(),
  testDatasetName: z.string().optional(),
  methods: z.array(MethodChoiceSchema),
  seeds: z.array(z.number().int()),
  /** Optimiser steps per run, or null when budgetTokens decides them. */
  steps: z.number().int().nullable(),
  /** Real training tokens per run (turned into the same steps for every method). */
  budgetTokens: z.number().int().nullable(),
  /** Trainer options shared by every run. */
  trainer: z.record(z.string(), z.unknown()),
  /** The engine that trains the runs (absent: tfjs). */
  engine: z.enum(['tfjs', 'torch']).optional(),
  items: z.array(QueueItemSchema),
});
export type Comparison = z.infer<typeof ComparisonSchema>;

export const RunDiagnosticsSchema = z.object({
  runId: z.string(),
  method: MethodNameSchema,
  /** 'prefix-attention-mass': α, the share of attention on the prefix keys (Prefix-Tuning). 'ptplus-memory-ratio':
   * ‖φ(q)ᵀM‖ / ‖attention output‖, the memory's contribution (Prefix-Tuning+). */
  kind: z.enum(['prefix-attention-mass', 'ptplus-memory-ratio']),
  /** [layer][position], NaN as null where no text reaches the position. */
  byLayer: z.array(z.array(z.number().nullable())),
  layerMeans: z.array(z.number().nullable()),
  /** Texts reaching each position. */
  counts: z.array(z.number().int()),
  prefixLength: z.number().int().optional(),
  texts: z.number().int(),
});
export type RunDiagnostics = z.infer<typeof RunDiagnosticsSchema>;

/** A run manifest without its id lists (thousands of example ids per run, also in its runSpec's frozen split), counted instead. */
export const RunSummarySchema = RunManifestSchema.omit({ dataset: true, runSpec: true }).extend({
  dataset: z.object({
    path: z.string(),
    sha256: z.string(),
    kPerClass: z.number().int().nullable(),
    splitSeed: z.number().int(),
    trainCount: z.number().int(),
    evalCount: z.number().int(),
  }),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;

export const trainingCalls = {
  'training.start': call(
    z
      .object({
        modelId: ModelIdSchema,
        datasetId: DatasetIdSchema,
        /** A stored split of the dataset (its seed, eval share and k per class are used). */
        splitName: z.string().min(1).max(64),
        /**
         * Another imported dataset scored as every run's test file (`--eval-data`: RunSpec data.evalPath = its source
         * file, read with the training dataset's task and mapping; scored at evalEvery and at the end as finalTest,
         * never trained on). Its task must be the training dataset's and its labels among the training split's.
         */
        testDatasetId: DatasetIdSchema.optional(),
        /** Each registered method at most once (the handler checks names and repeats); the bound only stops a flood. */
        methods: z.array(MethodChoiceSchema).min(1).max(64),
        seeds: z.array(z.number().int().min(0)).min(1).max(10),
        steps: z.number().int().min(1).max(1_000_000).optional(),
        budgetTokens: z.number().int().min(1).optional(),
        /** Trainer options for every run (batchSize, maxLength, evalEvery, …; the rest take their defaults); unknown or invalid ones fail naming the field. */
        trainer: trainerOptionsPatch.default({}),
        /**
         * Which engine trains: this app's TensorFlow.js (default) or the torch engine (PyTorch + PEFT, one process, with the
         * Python Settings shows: system.python), whose runs land in the same registry, curves and exports.
         */
        engine: z.enum(['tfjs', 'torch']).optional(),
      })
      .strict()
      .refine((r) => (r.steps === undefined) !== (r.budgetTokens === undefined), { message: 'give exactly one of steps or budgetTokens', path: ['steps'] }),
    ComparisonSchema,
    'Queue every method × seed on one model, split and budget; runs train one at a time.',
  ),
  'training.state': call(
    z.object({}).strict(),
    z.object({ comparisons: z.array(ComparisonSchema), queue: z.array(QueueItemSchema), runs: z.array(RunSummarySchema) }),
    'Comparisons (newest first), the live queue and every run manifest: what a window needs to reattach after a reload.',
  ),
  'training.metrics': call(
    z.object({ runId: z.string() }).strict(),
    z.object({ runId: z.string(), points: z.array(TrainProgressSchema) }),
    'Every progress point a run logged so far (its curves).',
  ),
  'training.cancel': call(
    z.object({ itemId: z.string() }).strict(),
    z.object({ cancelled: z.boolean() }),
    'Cancel a queued run (it will not start) or a running one (it stops after the current step and keeps a checkpoint).',
  ),
  'training.resume': call(z.object({ runId: z.string() }).strict(), QueueItemSchema, 'Queue a cancelled or interrupted run to continue from its newest checkpoint.'),
  'training.generate': call(
    z
      .object({
        /** A run of this comparison (its newest checkpoint); give this or adapterId. */
        runId: z.string().optional(),
        /** Any registry adapter, or a finished run's id, on its recorded base model; give this or runId. */
        adapterId: AdapterRefSchema.optional(),
        prompts: z.array(z.string().min(1).max(10_000)).min(1).max(8),
        maxNewTokens: z.number().int().min(1).max(512).default(32),
      })
      .strict()
      .refine((req) => (req.runId === undefined) !== (req.adapterId === undefined), { message: 'give exactly one of runId or adapterId', path: ['runId'] }),
    z.object({ rows: z.array(z.object({ prompt: z.string(), base: z.string(), tuned: z.string() })) }),
    "Greedy continuations of each prompt by the base model and by the run's (or the registry adapter's) adapter, side by side.",
  ),
  'training.diagnostics': call(
    z.object({ runId: z.string(), texts: z.number().int().min(1).max(64).default(16) }).strict(),
    RunDiagnosticsSchema,
    "Prefix attention mass (Prefix-Tuning) or the memory's share of the attention output (Prefix-Tuning+) per layer and position, on eval prompts.",
  ),
  'training.removeRun': call(
    z.object({ runId: z.string(), force: z.boolean().default(false) }).strict(),
    z.object({ removed: z.boolean(), dependents: z.array(z.string()) }),
    'Delete a run folder; without force, refuses while adapters were made from it and names them.',
  ),
};

export const trainingEvents = {
  /** One optimiser step of a run (after its evaluation, when one was due). */
  'training.progress': TrainProgressSchema,
  /** The queue after any change (enqueued, started, ended). */
  'training.queue': z.object({ items: z.array(QueueItemSchema) }),
  /** Non-fatal messages of a run (truncated examples, memory warnings). */
  'training.log': z.object({ itemId: z.string(), runId: z.string().nullable(), message: z.string() }),
};
