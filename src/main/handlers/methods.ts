// methods.* handlers: the method registry as forms (JSON Schema) and the cost of one configuration.
import { z } from 'zod';
import type { Handlers } from '@shared/contract';
import type { MemoryEstimate } from '@shared/contract/calls/methods';
import type { AppContext } from '../app/context';
import { readModelConfig } from '../engine/io/load-model';
import type { ModelConfig } from '../engine/models/causal-lm';
import type { MethodName } from '../engine/methods/method';
import { allMethods, getMethod, methodOptionsJsonSchema, parseMethodOptions } from '../engine/methods/registry';
import { trainerOptions } from '../engine/train/config';

type MethodsHandlers = Pick<Handlers<AppContext>, 'methods.list' | 'methods.estimate'>;

const FLOAT_BYTES = 4;

/**
 * tfjs's tape keeps what each kernel's gradient declares (more than a fused backward would read) until the
 * backward pass ends, and the backward allocates its transients on top: peak tensor memory measured in the
 * training benchmark is 2.7× (GPT-2-small shape) to 3.7× (tiny-4x256, SmolLM-135M shapes) the set above.
 */
const TAPE_OVERHEAD = 3.2;

/**
 * Bytes a training step needs, roughly: frozen weights, the trained values with their gradient and two AdamW
 * moments, and the activations the backward pass keeps. Activations per token and layer: the block's inputs,
 * norms, q/k/v, attention output and MLP intermediates (≈ 6·D + 3·I + 2·H_kv·d), plus scores and
 * probabilities per head over the keys; then the logits and their gradient. Virtual tokens (prompt/prefix)
 * lengthen the sequence or the keys. That saved set is scaled by TAPE_OVERHEAD (above).
 */
export function estimateMemory(
  config: ModelConfig,
  trainableParams: number,
  method: MethodName,
  options: Record<string, unknown>,
  batchSize: number,
  maxLength: number,
): MemoryEstimate {
  const virtual = typeof options.numVirtualTokens === 'number' ? options.numVirtualTokens : 0;
  const queries = maxLength + (method === 'prompt' ? virtual : 0);
  const keys = queries + (method === 'prefix' ? virtual : 0);
  const perTokenPerLayer = 6 * config.hidden + 3 * config.intermediate + 2 * config.kvHeads * config.headDim + 2 * config.heads * keys;
  const activationsBytes = TAPE_OVERHEAD * batchSize * queries * (config.layers * perTokenPerLayer + 3 * config.vocabSize) * FLOAT_BYTES;
  // Full fine-tuning turns the base weights themselves into the trained values: count them once.
  const weightsBytes = method === 'full' ? (config.parameters - trainableParams) * FLOAT_BYTES : config.parameters * FLOAT_BYTES;
  const trainableBytes = trainableParams * FLOAT_BYTES;
  const gradientBytes = trainableParams * FLOAT_BYTES;
  const optimizerBytes = 2 * trainableParams * FLOAT_BYTES;
  return {
    weightsBytes,
    trainableBytes,
    gradientBytes,
    optimizerBytes,
    activationsBytes,
    totalBytes: weightsBytes + trainableBytes + gradientBytes + optimizerBytes + activationsBytes,
  };
}

export const methodsHandlers: MethodsHandlers = {
  'methods.list': async () => ({
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
  }),

  'methods.estimate': async (req, ctx) => {
    const entry = await ctx.models.get(req.modelId);
    const { config } = readModelConfig(entry.path);
    const options = parseMethodOptions(req.method, req.options);
    const method = getMethod(req.method);
    const trainableParams = method.countParameters(config, options as never);
    return {
      method: req.method,
      trainableParams,
      baseParams: config.parameters,
      trainableFraction: config.parameters > 0 ? trainableParams / config.parameters : 0,
      memory: estimateMemory(config, trainableParams, req.method, options, req.batchSize, req.maxLength),
      options,
    };
  },
};
