// Prefix-Tuning's options: fields, defaults, limits and the one-line help the app's form and `--help` show. Pure zod
// (no tfjs) so that src/shared (the API contract, the run spec) can use it; the engine's method definition
// (src/main/engine/methods/prefix.ts) validates with this same schema.
import { z } from 'zod';

export const prefixOptions = z.object({
  numVirtualTokens: z.number().int().min(1).max(1024).default(10).describe('Prefix length p: key/value vectors prepended in every layer'),
  projection: z.boolean().default(true).describe("Reparameterise the prefix through a 2-layer tanh MLP (Li & Liang; PEFT's prefix_projection)"),
  encoderHiddenSize: z
    .number()
    .int()
    .min(1)
    .max(65536)
    .nullable()
    .default(null)
    .describe("Hidden width of the reparameterisation MLP (null: token_dim = H_kv·head_dim, PEFT's default)"),
});

export type PrefixOptions = z.output<typeof prefixOptions>;
