// methods.*: the PEFT methods on offer (each with its options as JSON Schema, so the renderer draws its form
// from the same zod declaration the trainer validates with) and what a configuration would cost.
import { z } from 'zod';
import { call } from '../define';
import { MethodNameSchema } from '../training';
import { ModelIdSchema } from './models';

/** A JSON Schema document (draft 2020-12), as produced by z.toJSONSchema. */
export const JsonSchemaSchema = z.record(z.string(), z.unknown());
export type JsonSchema = z.infer<typeof JsonSchemaSchema>;

export const MethodInfoSchema = z.object({
  name: MethodNameSchema,
  label: z.string(),
  /** One sentence: what the method trains. */
  summary: z.string(),
  /** Learning rate that suits the method by default. */
  defaultLearningRate: z.number(),
  /** The options form: properties with type, default, limits and a description each. */
  optionsSchema: JsonSchemaSchema,
  /** Every option at its default. */
  defaults: z.record(z.string(), z.unknown()),
});
export type MethodInfo = z.infer<typeof MethodInfoSchema>;

export const MemoryEstimateSchema = z.object({
  /** Frozen base weights at float32. */
  weightsBytes: z.number(),
  /** The trained tensors themselves. */
  trainableBytes: z.number(),
  /** One gradient per trainable value. */
  gradientBytes: z.number(),
  /** AdamW's two moments per trainable value. */
  optimizerBytes: z.number(),
  /** Activations kept for the backward pass at this batch size and length (a rough upper bound). */
  activationsBytes: z.number(),
  totalBytes: z.number(),
});
export type MemoryEstimate = z.infer<typeof MemoryEstimateSchema>;

export const EstimateSchema = z.object({
  method: MethodNameSchema,
  trainableParams: z.number().int(),
  baseParams: z.number().int(),
  /** trainableParams / baseParams. */
  trainableFraction: z.number(),
  memory: MemoryEstimateSchema,
  /** The options as the trainer will use them (defaults filled). */
  options: z.record(z.string(), z.unknown()),
});
export type Estimate = z.infer<typeof EstimateSchema>;

export const methodsCalls = {
  'methods.list': call(
    z.object({}).strict(),
    z.object({
      methods: z.array(MethodInfoSchema),
      /** Trainer options (batching, schedule, evaluation…) shared by every method, as JSON Schema with defaults. */
      trainer: z.object({ optionsSchema: JsonSchemaSchema, defaults: z.record(z.string(), z.unknown()) }),
    }),
    'Every PEFT method with its options schema, defaults and default learning rate, plus the trainer options.',
  ),
  'methods.estimate': call(
    z
      .object({
        modelId: ModelIdSchema,
        method: MethodNameSchema,
        /** Method options; missing ones take their defaults. Invalid ones fail naming the field. */
        options: z.record(z.string(), z.unknown()).default({}),
        batchSize: z.number().int().min(1).max(4096).default(8),
        /** Longest example in tokens. */
        maxLength: z.number().int().min(2).max(1_000_000).default(256),
        /** The trainer option of the same name: with a GGUF base and a frozen-base method, 'auto' (its default) counts the quantized matrices at their bytes. */
        quantizedBase: z.enum(['auto', 'on', 'off']).default('auto'),
      })
      .strict(),
    EstimateSchema,
    'Trainable parameters and a memory estimate for one method configuration on one model, without allocating anything.',
  ),
};
