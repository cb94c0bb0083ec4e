// Prefix-Tuning+'s options: fields, defaults, limits and the one-line help the app's form and `--help` show. Pure zod
// (no tfjs) so that src/shared (the API contract, the run spec) can use it; the engine's method definition
// (src/main/engine/methods/ptplus.ts) validates with this same schema.
import { z } from 'zod';

export const ptplusOptions = z
  .object({
    featureMap: z
      .enum(['elu', 'elu+1', 'gelu', 'mlp'])
      .default('elu')
      .describe("Kernel feature map φ on each head's query: elu (paper default), elu+1 (positive), gelu, or a trainable kernel ReLU(W q + b)"),
    phiDim: z.number().int().min(1).max(4096).nullable().default(null).describe('Feature dimension d_φ of the mlp kernel (null: head_dim); elementwise maps always use head_dim'),
    queryRope: z.enum(['pre', 'post']).default('pre').describe('Feed φ the query before (pre, default) or after (post) rotary position embedding'),
    memory: z
      .enum(['per-head', 'cross-head'])
      .default('per-head')
      .describe('per-head: one [d_φ, d] memory per query head (block-diagonal); cross-head: one [H·d_φ, H·d] matrix per layer'),
    variant: z
      .enum(['plain', 'normalised'])
      .default('plain')
      .describe('plain: attn + φ(q)ᵀM; normalised (ablation): λ·attn + (1−λ)·φ(q)ᵀM / φ(q)ᵀN with φ = elu+1 and trainable N > 0'),
    lambda: z.number().gt(0).max(1).default(0.5).describe('Fixed mixing weight λ of the attention output in the normalised variant (0 < λ ≤ 1)'),
    layers: z.array(z.number().int().min(0)).nullable().default(null).describe('Layer indices to adapt (null: every layer)'),
    phiCenter: z
      .enum(['none', 'data-mean'])
      .default('none')
      .describe('data-mean: subtract the mean of φ(q) per layer and head, measured on training prompts with the frozen base (PrefixLab extension)'),
    memoryInitStd: z.number().min(0).max(1).default(0).describe('Std of the normal init of M; 0 (default) makes the adapted model equal the base at step 0'),
  })
  .superRefine((o, ctx) => {
    if (o.variant === 'normalised' && o.featureMap !== 'elu+1') {
      ctx.addIssue({ code: 'custom', path: ['featureMap'], message: "the normalised variant needs the positive feature map 'elu+1'" });
    }
    if (o.variant === 'normalised' && o.memory !== 'per-head') {
      ctx.addIssue({ code: 'custom', path: ['memory'], message: 'the normalised variant is defined per head' });
    }
    if (o.variant === 'normalised' && o.phiCenter !== 'none') {
      ctx.addIssue({ code: 'custom', path: ['phiCenter'], message: 'centring φ would break the positive normaliser φ(q)ᵀN' });
    }
    if (o.phiDim !== null && o.featureMap !== 'mlp') {
      ctx.addIssue({ code: 'custom', path: ['phiDim'], message: 'phiDim applies to the mlp kernel only' });
    }
  });

export type PtPlusOptions = z.output<typeof ptplusOptions>;
