// LoRA's options: fields, defaults, limits and the one-line help the app's form and `--help` show. Pure zod
// (no tfjs) so that src/shared (the API contract, the run spec) can use it; the engine's method definition
// (src/main/engine/methods/lora.ts) validates with this same schema.
import { z } from 'zod';

export const loraOptions = z.object({
  rank: z.number().int().min(1).max(1024).default(8).describe('Rank r of the update B·A'),
  alpha: z.number().gt(0).max(4096).default(16).describe('Scale numerator α: the update is multiplied by α/r (α/√r with rsLoRA)'),
  dropout: z.number().min(0).max(0.9).default(0.05).describe('Dropout probability on the LoRA input while training'),
  rsLora: z.boolean().default(false).describe('Rank-stabilised LoRA: scale by α/√r instead of α/r'),
  targets: z
    .union([z.enum(['default', 'all-linear']), z.array(z.string().min(1)).min(1)])
    .default('default')
    .describe(
      "Layers to adapt: 'default' (q_proj,v_proj for llama/mistral/qwen2/qwen3; qkv_proj for phi3; c_attn for gpt2; query_key_value for gpt_neox), 'all-linear' (every linear but the LM head), or module names matched as PEFT does (equal, or ending in '.' + name)",
    ),
});

export type LoraOptions = z.output<typeof loraOptions>;
