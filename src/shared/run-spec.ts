// RunSpec: one training run, described once — model, data and split, method and its typed options, trainer
// options, seed and engine. JSON-serialisable and versioned; written into every run's manifest (runSpec), so the
// next engines can read what a run did. The CLI builds it from its flags (src/main/cli/run-spec-flags.ts), the
// app's handler from a comparison request; services and the engine pass it on as it is.
//
// Shape: { version: 1, engine: 'tfjs' | 'torch', model: {path}, data: {path, datasetId?, split: {seed, evalSplit, kPerClass,
// name?, frozen?: {trainIds, evalIds}}, evalPath?}, method: {name, options}, trainer: {...trainer options but splitSeed,
// learningRate?, steps? | epochs? | budgetTokens?}, seed }.
//
// `method` is a discriminated union on its name: the five built-in methods with their typed options
// (RunSpecSchema; run-spec.schema.json is generated from it by `npm run gen:run-spec-schema`). A method
// registered at run time (engine/methods/registry.ts registerMethod) is accepted by runSpecSchema(methods),
// which the engine builds from its registry (engine/train/run-spec.ts parseRunSpec).
import { z } from 'zod';
import { METHOD_NAME_PATTERN } from './methods/method-name';
import { fullOptions } from './methods/full-options';
import { loraOptions } from './methods/lora-options';
import { prefixOptions } from './methods/prefix-options';
import { promptOptions } from './methods/prompt-options';
import { ptplusOptions } from './methods/ptplus-options';
import { trainerOptions } from './trainer-options';

export const RUN_SPEC_VERSION = 1;

export const FrozenSplitSchema = z
  .object({ trainIds: z.array(z.string()), evalIds: z.array(z.string()) })
  .describe('A split used as is (a stored split of the dataset); kPerClass then draws from its train ids');

export const SplitSpecSchema = z.object({
  seed: z.number().int().default(0).describe('Seed of the train/eval split (fixed across training seeds so comparisons share one split)'),
  evalSplit: z.number().default(0.2).describe('Share (< 1) or count (≥ 1) of examples held out for eval; ignored with frozen'),
  kPerClass: z.number().int().min(1).nullable().default(null).describe('Training examples per label, drawn with the training seed (null: every training example)'),
  name: z.string().optional().describe("The stored split's name, when the split is one (the app)"),
  frozen: FrozenSplitSchema.optional(),
});

export const DataSpecSchema = z.object({
  path: z.string().min(1).describe('Dataset file (any format the dataset service reads) or an imported dataset folder'),
  datasetId: z.string().optional().describe("The imported dataset's id, when it is one (the app)"),
  split: SplitSpecSchema.prefault({}),
  evalPath: z
    .string()
    .min(1)
    .optional()
    .describe("The user's own test file, read with the training data's task, mapping and template; scored at evalEvery and at the end, never trained on nor used to tune"),
});

/** The trainer's options (its split seed lives in data.split) plus the learning rate and how long to train. */
export const TrainerSpecSchema = trainerOptions.omit({ splitSeed: true }).extend({
  learningRate: z.number().positive().optional().describe("Peak learning rate (absent: the method's default)"),
  steps: z.number().int().min(1).optional().describe('Optimiser steps; else epochs; else budgetTokens; else 3 epochs'),
  epochs: z.number().positive().optional().describe('Passes over the training examples'),
  budgetTokens: z.number().int().min(1).optional().describe('Train until this many real tokens are seen (converted to steps up front)'),
});
export type TrainerSpec = z.output<typeof TrainerSpecSchema>;

/** One branch of the method union: a method's name and its options (every option has a default). */
function methodBranch<N extends string, O extends z.ZodObject>(name: N, options: O) {
  return z.object({ name: z.literal(name), options: options.prefault({} as z.input<O>) });
}

const BUILT_IN_BRANCHES = [
  methodBranch('ptplus', ptplusOptions),
  methodBranch('prefix', prefixOptions),
  methodBranch('prompt', promptOptions),
  methodBranch('lora', loraOptions),
  methodBranch('full', fullOptions),
] as const;

/** The built-in methods' names, in the registry's order (a test checks the two agree). */
export const BUILT_IN_METHOD_NAMES = BUILT_IN_BRANCHES.map((b) => b.shape.name.value);

function specOf<M extends z.ZodType>(method: M) {
  return z
    .object({
      version: z.literal(RUN_SPEC_VERSION).default(RUN_SPEC_VERSION),
      engine: z.enum(['tfjs', 'torch']).default('tfjs').describe('The training engine: tfjs (in the app) or torch (PyTorch + PEFT + accelerate, python/prefixlab_torch)'),
      model: z.object({ path: z.string().min(1).describe('HF model folder or llama2.c .bin') }),
      data: DataSpecSchema,
      method,
      trainer: TrainerSpecSchema.prefault({}),
      seed: z.number().int().default(0).describe('Training seed (initialisation, k-shot draw, batch order, dropout)'),
    })
    .strict();
}

/** A run of one of the built-in methods, each with its typed options. */
export const RunSpecSchema = specOf(z.discriminatedUnion('name', [...BUILT_IN_BRANCHES]));
export type BuiltInRunSpec = z.output<typeof RunSpecSchema>;

/** Any run, the method's options as a record (a registered method's are not known here). */
export type RunSpec = Omit<BuiltInRunSpec, 'method'> & { method: { name: string; options: Record<string, unknown> } };
/** What may be parsed into a RunSpec: defaults may be left out. */
export type RunSpecInput = Omit<z.input<typeof RunSpecSchema>, 'method'> & { method: { name: string; options?: Record<string, unknown> } };

/** The schema for the built-in methods plus `extra` ones (registered at run time), each with its options schema. */
export function runSpecSchema(extra: readonly { name: string; options: z.ZodObject }[]) {
  const builtIn = new Set<string>(BUILT_IN_METHOD_NAMES);
  const added = extra.filter((m) => !builtIn.has(m.name)).map((m) => methodBranch(m.name, m.options));
  return specOf(z.discriminatedUnion('name', [...BUILT_IN_BRANCHES, ...added]));
}

/** A run spec as a manifest stores it: any method name of the API's shape, its options as written. */
export const StoredRunSpecSchema = specOf(z.object({ name: z.string().regex(METHOD_NAME_PATTERN), options: z.record(z.string(), z.unknown()) }));

/** JSON Schema (draft 2020-12) of a run spec as written (defaults filled in): src/shared/run-spec.schema.json. */
export function runSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RunSpecSchema, { io: 'output', target: 'draft-2020-12' }) as Record<string, unknown>;
}
