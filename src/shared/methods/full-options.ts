// Full fine-tuning's options: fields, defaults, limits and the one-line help the app's form and `--help` show. Pure zod
// (no tfjs) so that src/shared (the API contract, the run spec) can use it; the engine's method definition
// (src/main/engine/methods/full.ts) validates with this same schema.
import { z } from 'zod';

export const fullOptions = z.object({
  include: z
    .array(z.string().min(1))
    .default([])
    .describe("Train only weights whose Hugging Face name contains one of these strings (empty: all weights), e.g. 'self_attn', 'layers.3.'"),
  freezeEmbeddings: z.boolean().default(false).describe('Keep the input embeddings (and a tied LM head) frozen'),
});

export type FullOptions = z.output<typeof fullOptions>;
