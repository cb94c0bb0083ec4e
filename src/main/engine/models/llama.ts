// The LLaMA family: llama, mistral (sliding window) and qwen2 (q/k/v biases). Pre-norm decoder with RMSNorm,
// rotary attention with grouped-query heads, and a SwiGLU MLP; embeddings tied or untied.
import * as tf from '@tensorflow/tfjs';
import { attention, gatedActivation, linear, parseActivation, residualAdd, rmsNorm, rotaryTables, runBlock, splitHeads, type Activation } from './blocks';
import { BaseCausalLM, countParameters, type ForwardOptions, type ModelConfig } from './causal-lm';
import { ConfigFields } from './config-fields';
import { prepareForward, type ForwardContext } from './forward-context';
import { parseRopeScaling, type RopeConfig } from './rope';

export interface LlamaConfig extends ModelConfig {
  architecture: 'llama' | 'mistral' | 'qwen2';
  normEps: number;
  rope: RopeConfig;
  /** Biases on q/k/v/o projections (qwen2: q/k/v only). */
  qkvBias: boolean;
  outputBias: boolean;
  mlpBias: boolean;
  activation: Activation;
  slidingWindow: number | null;
}

export function parseLlamaConfig(raw: Record<string, unknown>, file: string): LlamaConfig {
  const f = new ConfigFields(raw, file);
  const architecture = f.str('model_type', 'llama') as LlamaConfig['architecture'];
  const hidden = f.int('hidden_size');
  const heads = f.int('num_attention_heads');
  const kvHeads = f.int('num_key_value_heads', heads);
  f.require(f.has('head_dim') || hidden % heads === 0, 'num_attention_heads', `hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  const headDim = f.int('head_dim', hidden / heads);
  f.require(heads % kvHeads === 0, 'num_key_value_heads', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  f.require(headDim % 2 === 0, 'head_dim', `head_dim ${headDim} must be even for rotary embeddings`);
  const maxPositions = f.int('max_position_embeddings', 2048);
  const isQwen = architecture === 'qwen2';
  const attentionBias = f.bool('attention_bias', false);
  const slidingWindow = architecture === 'mistral' || (isQwen && f.bool('use_sliding_window', false)) ? (f.has('sliding_window') ? f.int('sliding_window') : null) : null;
  const config: LlamaConfig = {
    architecture,
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
    normEps: f.num('rms_norm_eps', 1e-6),
    rope: { theta: f.num('rope_theta', 10000), rotaryDim: headDim, scaling: parseRopeScaling(f, maxPositions) },
    qkvBias: isQwen || attentionBias,
    outputBias: attentionBias,
    mlpBias: f.bool('mlp_bias', false),
    activation: parseActivation(f.str('hidden_act', 'silu'), file, 'hidden_act'),
    slidingWindow,
  };
  config.parameters = countParameters(llamaWeightShapes(config));
  return config;
}

/** Every weight the model reads, with its shape ([out, in] for linear layers). */
export function llamaWeightShapes(c: LlamaConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const qDim = c.heads * c.headDim;
  const kvDim = c.kvHeads * c.headDim;
  shapes.set('model.embed_tokens.weight', [c.vocabSize, c.hidden]);
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [c.hidden]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [qDim, c.hidden]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kvDim, c.hidden]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kvDim, c.hidden]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [c.hidden, qDim]);
    if (c.qkvBias) {
      shapes.set(`${p}.self_attn.q_proj.bias`, [qDim]);
      shapes.set(`${p}.self_attn.k_proj.bias`, [kvDim]);
      shapes.set(`${p}.self_attn.v_proj.bias`, [kvDim]);
    }
    if (c.outputBias) shapes.set(`${p}.self_attn.o_proj.bias`, [c.hidden]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [c.hidden]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.up_proj.weight`, [c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.down_proj.weight`, [c.hidden, c.intermediate]);
    if (c.mlpBias) {
      shapes.set(`${p}.mlp.gate_proj.bias`, [c.intermediate]);
      shapes.set(`${p}.mlp.up_proj.bias`, [c.intermediate]);
      shapes.set(`${p}.mlp.down_proj.bias`, [c.hidden]);
    }
  }
  shapes.set('model.norm.weight', [c.hidden]);
  if (!c.tiedEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hidden]);
  return shapes;
}

export class LlamaModel extends BaseCausalLM<LlamaConfig> {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.beforeForward();
    return tf.tidy(() => {
      const c = this.config;
      const embeddings = this.embeddingRows('model.embed_tokens.weight', inputIds.toInt()) as tf.Tensor3D; // [B, T, D]
      const { ctx, hidden } = prepareForward(c, inputIds, embeddings, opts, { slidingWindow: c.slidingWindow });
      const rotary = rotaryTables(c.rope, ctx.positions, ctx.keyLen); // [B|1, 1, Tq, d] each
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
    const names = [...llamaWeightShapes(this.config)].filter(([name, shape]) => shape.length === 2 && name !== 'model.embed_tokens.weight').map(([name]) => name);
    if (this.config.tiedEmbeddings) names.push('model.embed_tokens.weight');
    return names;
  }

  private proj(ctx: ForwardContext, module: string, x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, module, this.linearWeights(`${module}.weight`, `${module}.bias`, 'out_in'), ctx.hooks); // [N, out]
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor2D, rotary: ReturnType<typeof rotaryTables>): tf.Tensor2D {
    const c = this.config;
    const p = `model.layers.${layer}.self_attn`;
    const query = splitHeads(this.proj(ctx, `${p}.q_proj`, x), ctx.batchSize, c.heads, c.headDim); // [B, H, Tq, d]
    const key = splitHeads(this.proj(ctx, `${p}.k_proj`, x), ctx.batchSize, c.kvHeads, c.headDim); // [B, Hkv, Tq, d]
    const value = splitHeads(this.proj(ctx, `${p}.v_proj`, x), ctx.batchSize, c.kvHeads, c.headDim); // [B, Hkv, Tq, d]
    const heads = attention(ctx, layer, query, key, value, { rotary }); // [N, H·d]
    return this.proj(ctx, `${p}.o_proj`, heads); // [N, D]
  }

  private mlp(ctx: ForwardContext, layer: number, x: tf.Tensor2D): tf.Tensor2D {
    const p = `model.layers.${layer}.mlp`;
    const gated = gatedActivation(this.proj(ctx, `${p}.gate_proj`, x), this.proj(ctx, `${p}.up_proj`, x), this.config.activation); // [N, F]
    return this.proj(ctx, `${p}.down_proj`, gated); // [N, D]
  }
}
