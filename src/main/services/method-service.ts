// The methods on offer as the API shows them — the engine's registry as forms (each method's options as JSON
// Schema with defaults, plus the trainer's) — and what one configuration would cost on a model, without
// allocating anything. Everything comes from the method definitions; nothing here names a method.
import { z } from 'zod';
import type { Estimate, MethodInfo } from '@shared/contract/calls/methods';
import { detectFormat } from '../engine/io/load-model';
import { allMethods, getMethod, methodOptionsJsonSchema, parseMethodOptions } from '../engine/methods/registry';
import { trainerOptions, type TrainerOptions } from '@shared/trainer-options';
import { resolveQuantizedBase } from '../engine/io/gguf/quantized-base-option';
import { parseOptions } from '../engine/train/config';
import { estimateMemory } from '../engine/train/memory-estimate';
import { readBaseForEstimate } from '../engine/train/memory-guard';
import { keepsTransposedWeights } from '../engine/models/ops';

/** Every registered method, in list order, and the trainer's options. */
export function listMethods(): { methods: MethodInfo[]; trainer: { optionsSchema: Record<string, unknown>; defaults: Record<string, unknown> } } {
  return {
    methods: allMethods().map((m) => ({
      name: m.name,
      label: m.label,
      summary: m.summary,
      defaultLearningRate: m.defaultLearningRate,
      optionsSchema: methodOptionsJsonSchema(m.name),
      defaults: parseMethodOptions(m.name, {}),
    })),
    trainer: {
      optionsSchema: z.toJSONSchema(trainerOptions, { io: 'input' }) as Record<string, unknown>,
      defaults: trainerOptions.parse({}) as Record<string, unknown>,
    },
  };
}

/**
 * Trainable parameters and the memory estimate of `method` with `rawOptions` on the model at `modelPath` (any
 * format). A GGUF base is counted as the training job will hold it: with `quantizedBase` resolved on (auto, the
 * trainer's default, for a frozen-base method) its quantized matrices at their bytes, else as float32.
 */
export async function estimateMethod(
  modelPath: string,
  method: string,
  rawOptions: unknown,
  batchSize: number,
  maxLength: number,
  quantizedBase: TrainerOptions['quantizedBase'] = trainerOptions.parse({}).quantizedBase,
): Promise<Estimate> {
  const { config, compact } = await readBaseForEstimate(modelPath, resolveQuantizedBase(quantizedBase, method, detectFormat(modelPath), modelPath));
  const options = parseMethodOptions(method, rawOptions);
  const trainableParams = getMethod(method).countParameters(config, options as never);
  return {
    method,
    trainableParams,
    baseParams: config.parameters,
    trainableFraction: config.parameters > 0 ? trainableParams / config.parameters : 0,
    // Counted with the transposed weight copies the active backend keeps (memory-estimate.ts).
    memory: estimateMemory(config, trainableParams, method, options, batchSize, maxLength, {
      weightCopies: keepsTransposedWeights() ? 2 : 1,
      compact,
    }),
    options,
  };
}

/** A run's method choices and trainer options, validated (defaults filled in) before anything is queued. */
export function validateRunOptions<Choice extends { method: string; options?: unknown }>(
  trainer: Record<string, unknown>,
  methods: readonly Choice[],
): { trainer: Record<string, unknown>; methods: (Choice & { options: Record<string, unknown> })[] } {
  return {
    trainer: parseOptions(trainerOptions, trainer, 'trainer') as Record<string, unknown>,
    methods: methods.map((choice) => ({ ...choice, options: parseMethodOptions(choice.method, choice.options) })),
  };
}
