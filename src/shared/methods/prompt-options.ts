// Prompt Tuning's options: fields, defaults, limits and the one-line help the app's form and `--help` show. Pure zod
// (no tfjs) so that src/shared (the API contract, the run spec) can use it; the engine's method definition
// (src/main/engine/methods/prompt.ts) validates with this same schema.
import { z } from 'zod';

export const promptOptions = z
  .object({
    numVirtualTokens: z.number().int().min(1).max(1024).default(20).describe('Number p of virtual tokens prepended to every input'),
    init: z
      .enum(['random', 'sample-vocab', 'text'])
      .default('sample-vocab')
      .describe('Initial embeddings: random normal, rows of randomly sampled vocabulary tokens, or the embeddings of initText'),
    initText: z.string().max(10_000).default('').describe("Text whose token embeddings initialise the prompt (init 'text'); repeated or truncated to p tokens as in PEFT"),
    randomStd: z.number().gt(0).max(10).default(1).describe("Std of the random init (PEFT's nn.Embedding default is 1)"),
  })
  .superRefine((o, ctx) => {
    if (o.init === 'text' && o.initText.trim() === '') {
      ctx.addIssue({ code: 'custom', path: ['initText'], message: "init 'text' needs a non-empty initText" });
    }
  });

export type PromptOptions = z.output<typeof promptOptions>;
