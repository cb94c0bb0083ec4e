// Phi-3 (and Phi-3.5 / Phi-4-mini): LLaMA's pre-norm decoder with two fused projections, qkv_proj (rows: the
// H·d query rows, then Hkv·d key rows, then Hkv·d value rows) and gate_up_proj (gate rows, then up rows);
// RoPE with longrope scaling (short/long factors and the attention factor, see rope.ts), partial rotary
// (partial_rotary_factor: the first d·f dims of each head rotate), and an optional sliding window on every layer.
import * as tf from '@tensorflow/tfjs';
import { attention, gatedActivation, linear, parseActivation, residualAdd, rmsNorm, rotaryTables, runBlock, splitHeads, type Activation } from './blocks';
import { BaseCausalLM, countParameters, type ForwardOptions, type ModelConfig } from './causal-lm';
import { ConfigFields } from './config-fields';
import { prepareForward, type ForwardContext } from './forward-context';
import { parseRopeScaling, type RopeConfig } from './rope';

export interface Phi3Config extends ModelConfig {
  architecture: 'phi3';
  normEps: number;
  rope: RopeConfig;
  activation: Activation;
  slidingWindow: number | null;
}

/** Phi3Config's defaults where config.json omits a field. */
const ORIGINAL_MAX_POSITIONS = 4096;

export function parsePhi3Config(raw: Record<string, unknown>, file: string): Phi3Config {
  const f = new ConfigFields(withLongRopeType(raw), file);
  const hidden = f.int('hidden_size');
  const heads = f.int('num_attention_heads');
  const kvHeads = f.int('num_key_value_heads', heads);
  f.require(f.has('head_dim') || hidden % heads === 0, 'num_attention_heads', `hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  const headDim = f.int('head_dim', hidden / heads);
  f.require(heads % kvHeads === 0, 'num_key_value_heads', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  const rotaryFactor = f.num('partial_rotary_factor', 1);
  const rotaryDim = Math.floor(headDim * rotaryFactor); // transformers: int(head_dim * partial_rotary_factor)
  f.require(
    rotaryFactor > 0 && rotaryFactor <= 1 && rotaryDim > 0 && rotaryDim % 2 === 0,
    'partial_rotary_factor',
    `partial_rotary_factor ${rotaryFactor} gives ${rotaryDim} rotary dims of head_dim ${headDim}; need an even number > 0`,
  );
  const maxPositions = f.int('max_position_embeddings', 4096);
  const config: Phi3Config = {
    architecture: 'phi3',
    vocabSize: f.int('vocab_size'),
    hidden,
    layers: f.int('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    intermediate: f.int('intermediate_size'),
    maxPositions,
    tiedEmbeddings: f.bool('tie_word_embeddings', false),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenIds: f.tokenIds('eos_token_id'),
    padTokenId: f.tokenId('pad_token_id'),
    normEps: f.num('rms_norm_eps', 1e-5),
    rope: {
      theta: f.num('rope_theta', 10000),
      rotaryDim,
      scaling: parseRopeScaling(f, maxPositions, { originalMaxPositions: ORIGINAL_MAX_POSITIONS, rotaryDim }),
    },
    activation: parseActivation(f.str('hidden_act', 'silu'), file, 'hidden_act'),
    slidingWindow: f.has('sliding_window') ? f.int('sliding_window') : null,
  };
  config.parameters = countParameters(phi3WeightShapes(config));
  return config;
}

/** Phi3Config renames rope_scaling type 'su' and 'yarn' (early Phi-3 checkpoints) to 'longrope'. */
function withLongRopeType(raw: Record<string, unknown>): Record<string, unknown> {
  const scaling = raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (!scaling || typeof scaling !== 'object' || !['su', 'yarn'].includes(scaling.type as string)) return raw;
  return { ...raw, rope_scaling: { ...scaling, type: 'longrope' } };
}

/** Every weight the model reads, with its shape ([out, in] for linear layers). */
export function phi3WeightShapes(c: Phi3Config): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const qDim = c.heads * c.headDim;
  const kvDim = c.kvHeads * c.headDim;
  shapes.set('model.embed_tokens.weight', [c.vocabSize, c.hidden]);
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [c.hidden]);
    shapes.set(`${p}.self_attn.qkv_proj.weight`, [qDim + 2 * kvDim, c.hidden]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [c.hidden, qDim]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [c.hidden]);
    shapes.set(`${p}.mlp.gate_up_proj.weight`, [2 * c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.down_proj.weight`, [c.hidden, c.intermediate]);
  }
  shapes.set('model.norm.weight', [c.hidden]);
  if (!c.tiedEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hidden]);
  return shapes;
}

export class Phi3Model extends BaseCausalLM<Phi3Config> {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.beforeForward();
    return tf.tidy(() => {
      const c = this.config;
      const embeddings = this.embeddingRows('model.embed_tokens.weight', inputIds.toInt()) as tf.Tensor3D; // [B, T, D]
      const { ctx, hidden } = prepareForward(c, inputIds, embeddings, opts, { slidingWindow: c.slidingWindow });
      // longrope picks its factors by max(position) + 1, which the offset moves too.
      const rotary = rotaryTables(c.rope, ctx.positions, ctx.keyLen + (opts.positionOffset ?? 0)); // [B|1, 1, Tq, rd] each
      // The residual stream stays [B·Tq, D]: linear layers take it as is.
      let x = hidden.reshape([ctx.batchSize * ctx.queryLen, c.hidden]) as tf.Tensor2D; // [N, D]
      for (let layer = 0; layer < c.layers; layer++) {
        const p = `model.layers.${layer}`;
        x = runBlock(
          ctx,
          layer,
          x,
          (h) => {
            const attnIn = rmsNorm(h, this.w(`${p}.input_layernorm.weight`), c.normEps); // [N, D]
            const mid = residualAdd(h, this.selfAttention(ctx, layer, attnIn, rotary)); // [N, D]
            const mlpIn = rmsNorm(mid, this.w(`${p}.post_attention_layernorm.weight`), c.normEps); // [N, D]
            return residualAdd(mid, this.mlp(ctx, layer, mlpIn)); // [N, D]
          },
          [rotary.cos, rotary.sinSigned],
        );
      }
      x = rmsNorm(x, this.w('model.norm.weight'), c.normEps); // [N, D]
      const head = this.linearWeights(c.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', undefined, 'out_in'); // [V, D]
      return this.lmHead(x, ctx, opts, head, 'lm_head'); // [B, T|1, V] or [1, N, V]
    });
  }

  protected linearWeightNames(): string[] {
    const names = [...phi3WeightShapes(this.config)].filter(([name, shape]) => shape.length === 2 && name !== 'model.embed_tokens.weight').map(([name]) => name);
    if (this.config.tiedEmbeddings) names.push('model.embed_tokens.weight');
    return names;
  }

  private proj(ctx: ForwardContext, module: string, x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, module, this.linearWeights(`${module}.weight`, undefined, 'out_in'), ctx.hooks); // [N, out]
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor2D, rotary: ReturnType<typeof rotaryTables>): tf.Tensor2D {
    const c = this.config;
    const p = `model.layers.${layer}.self_attn`;
    const qDim = c.heads * c.headDim;
    const kvDim = c.kvHeads * c.headDim;
    const [q, k, v] = tf.split(this.proj(ctx, `${p}.qkv_proj`, x), [qDim, kvDim, kvDim], 1); // [N, H·d], [N, Hkv·d] ×2
    const query = splitHeads(q as tf.Tensor2D, ctx.batchSize, c.heads, c.headDim); // [B, H, Tq, d]
    const key = splitHeads(k as tf.Tensor2D, ctx.batchSize, c.kvHeads, c.headDim); // [B, Hkv, Tq, d]
    const value = splitHeads(v as tf.Tensor2D, ctx.batchSize, c.kvHeads, c.headDim); // [B, Hkv, Tq, d]
    const heads = attention(ctx, layer, query, key, value, { rotary }); // [N, H·d]
    return this.proj(ctx, `${p}.o_proj`, heads); // [N, D]
  }

  private mlp(ctx: ForwardContext, layer: number, x: tf.Tensor2D): tf.Tensor2D {
    const p = `model.layers.${layer}.mlp`;
    const [gate, up] = tf.split(this.proj(ctx, `${p}.gate_up_proj`, x), 2, 1); // [N, F] each: gate rows first, as chunk(2)
    const gated = gatedActivation(gate as tf.Tensor2D, up as tf.Tensor2D, this.config.activation); // [N, F]
    return this.proj(ctx, `${p}.down_proj`, gated); // [N, D]
  }
}
