// The trainer's options (batching, optimiser, schedule, evaluation, checkpoints) with defaults and one-line docs.
// Pure zod so that src/shared (the run spec, the API contract) can use it; the engine's trainer reads the parsed
// values (src/main/engine/train/config.ts adds what a run's plan needs beyond them).
import { z } from 'zod';

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
  scoreLabels: z
    .boolean()
    .default(true)
    .describe(
      "Score every label's verbalisation when evaluating labelled data (label-likelihood accuracy); off: only the eval loss (and exact match with evalGenerate), one sequence per example instead of one per label",
    ),
  evalGenerate: z.boolean().default(false).describe('At the end, also generate greedily for the eval examples and report exact match (trimmed, whitespace-collapsed, case-folded)'),
  splitSeed: z.number().int().default(0).describe('Seed of the train/eval split (fixed across training seeds so comparisons share one split)'),
  recompute: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe(
      "Recompute each block's activations in the backward pass instead of keeping them (less memory, about one more forward pass per step); auto: only when the memory guard says the run would not fit otherwise",
    ),
  quantizedBase: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe(
      "Keep a GGUF base's quantized matrices (layers and embedding table) in their blocks and dequantize each inside the step (same values and losses as float32, less memory, more time per step); frozen-base methods only (not full); auto (default): on for a GGUF base with a frozen-base method (about 0.4x the memory at up to 1.3x the step time, docs/performance.md); off: dequantize the whole base to float32 at load",
    ),
  dataParallel: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe(
      "Processes that share each step's rows: the training process and N - 1 replica processes, each with its own copy of the model and cores / N backend threads. The same losses up to float rounding (dropout masks are drawn per share); faster where one process cannot keep the cores busy (short sequences; the single-threaded wasm backend). Frozen-base methods only (not full); needs N copies of the model's memory (in the desktop app, the app's main process starts the replicas)",
    ),
});

export type TrainerOptions = z.output<typeof trainerOptions>;

/**
 * The same fields without their defaults, every one optional, unknown keys refused: what a request sends when it
 * changes some options and leaves the rest to the trainer (the app's `training.start`).
 */
export const trainerOptionsPatch = z
  .object(
    Object.fromEntries(Object.entries(trainerOptions.shape).map(([key, field]) => [key, (field as unknown as z.ZodDefault<z.ZodType>).removeDefault().optional()])) as {
      [K in keyof typeof trainerOptions.shape]: z.ZodOptional<ReturnType<(typeof trainerOptions.shape)[K]['removeDefault']>>;
    },
  )
  .strict();
export type TrainerOptionsPatch = z.output<typeof trainerOptionsPatch>;
