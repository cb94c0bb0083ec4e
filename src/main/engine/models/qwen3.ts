// Qwen3: LLaMA's pre-norm decoder (RMSNorm, rotary GQA attention, SwiGLU MLP) with an RMSNorm over each
// query and key head (q_norm, k_norm, weights [head_dim]) before RoPE, an explicit head_dim (Qwen3-0.6B: 16
// heads × 128 > hidden 1024), optional biases (attention_bias) and, when use_sliding_window is set, a window
// on the layers layer_types marks 'sliding_attention' (by default those from max_window_layers on).
import * as tf from '@tensorflow/tfjs';
import { attention, gatedActivation, linear, parseActivation, residualAdd, rmsNorm, rotaryTables, runBlock, splitHeads, type Activation } from './blocks';
import { BaseCausalLM, countParameters, type ForwardOptions, type ModelConfig } from './causal-lm';
import { ConfigFields } from './config-fields';
import { prepareForward, type ForwardContext } from './forward-context';
import { parseRopeScaling, type RopeConfig } from './rope';
import { slidingWindowContext } from './sliding-window';

export interface Qwen3Config extends ModelConfig {
  architecture: 'qwen3';
  normEps: number;
  rope: RopeConfig;
  /** Biases on q/k/v/o (attention_bias). */
  attentionBias: boolean;
  activation: Activation;
  /** Per layer: how many keys back its queries see (themselves included), or null for full attention. */
  layerWindows: (number | null)[];
}

const LAYER_TYPES = ['full_attention', 'sliding_attention'] as const;

export function parseQwen3Config(raw: Record<string, unknown>, file: string): Qwen3Config {
  const f = new ConfigFields(raw, file);
  const hidden = f.int('hidden_size');
  const heads = f.int('num_attention_heads');
  const kvHeads = f.int('num_key_value_heads', heads);
  // Qwen3Config's default head_dim is 128 (not hidden / heads); real checkpoints state it.
  const headDim = f.int('head_dim', 128);
  f.require(heads % kvHeads === 0, 'num_key_value_heads', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  f.require(headDim % 2 === 0, 'head_dim', `head_dim ${headDim} must be even for rotary embeddings`);
  const layers = f.int('num_hidden_layers');
  const maxPositions = f.int('max_position_embeddings', 32768);
  const config: Qwen3Config = {
    architecture: 'qwen3',
    vocabSize: f.int('vocab_size'),
    hidden,
    layers,
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
    rope: { theta: f.num('rope_theta', 10000), rotaryDim: headDim, scaling: parseRopeScaling(f, maxPositions, { rotaryDim: headDim }) },
    attentionBias: f.bool('attention_bias', false),
    activation: parseActivation(f.str('hidden_act', 'silu'), file, 'hidden_act'),
    layerWindows: parseLayerWindows(f, layers),
  };
  config.parameters = countParameters(qwen3WeightShapes(config));
  return config;
}

/** As Qwen3Config: a window only with use_sliding_window, on the layers layer_types (or max_window_layers) marks sliding. */
function parseLayerWindows(f: ConfigFields, layers: number): (number | null)[] {
  const window = f.bool('use_sliding_window', false) && f.has('sliding_window') ? f.int('sliding_window') : null;
  if (!f.has('layer_types')) {
    const firstSliding = f.int('max_window_layers', 28);
    return Array.from({ length: layers }, (_, i) => (window !== null && i >= firstSliding ? window : null));
  }
  const types = f.raw.layer_types;
  f.require(
    Array.isArray(types) && types.length === layers && types.every((t) => (LAYER_TYPES as readonly unknown[]).includes(t)),
    'layer_types',
    `layer_types must list ${layers} entries, each ${LAYER_TYPES.join(' or ')}`,
  );
  return (types as string[]).map((t) => (t === 'sliding_attention' ? window : null));
}

/** Every weight the model reads, with its shape ([out, in] for linear layers). */
export function qwen3WeightShapes(c: Qwen3Config): Map<string, number[]> {
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
    if (c.attentionBias) {
      shapes.set(`${p}.self_attn.q_proj.bias`, [qDim]);
      shapes.set(`${p}.self_attn.k_proj.bias`, [kvDim]);
      shapes.set(`${p}.self_attn.v_proj.bias`, [kvDim]);
      shapes.set(`${p}.self_attn.o_proj.bias`, [c.hidden]);
    }
    shapes.set(`${p}.self_attn.q_norm.weight`, [c.headDim]);
    shapes.set(`${p}.self_attn.k_norm.weight`, [c.headDim]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [c.hidden]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.up_proj.weight`, [c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.down_proj.weight`, [c.hidden, c.intermediate]);
  }
  shapes.set('model.norm.weight', [c.hidden]);
  if (!c.tiedEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hidden]);
  return shapes;
}

export class Qwen3Model extends BaseCausalLM<Qwen3Config> {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.beforeForward();
    return tf.tidy(() => {
      const c = this.config;
      const embeddings = this.embeddingRows('model.embed_tokens.weight', inputIds.toInt()) as tf.Tensor3D; // [B, T, D]
      const { ctx, hidden } = prepareForward(c, inputIds, embeddings, opts);
      const rotary = rotaryTables(c.rope, ctx.positions, ctx.keyLen); // [B|1, 1, Tq, d] each
      // Windowed layers share one context per window size (mask built once per call).
      const contexts = new Map<number, ForwardContext>();
      const layerContext = (window: number | null): ForwardContext => {
        if (window === null) return ctx;
        if (!contexts.has(window)) contexts.set(window, slidingWindowContext(ctx, window));
        return contexts.get(window)!;
      };
      // The residual stream stays [B·Tq, D]: linear layers take it as is.
      let x = hidden.reshape([ctx.batchSize * ctx.queryLen, c.hidden]) as tf.Tensor2D; // [N, D]
      for (let layer = 0; layer < c.layers; layer++) {
        const p = `model.layers.${layer}`;
        const attnCtx = layerContext(c.layerWindows[layer]); // built here, outside the block: a recomputed block must find it
        x = runBlock(
          attnCtx,
          layer,
          x,
          (h) => {
            const attnIn = rmsNorm(h, this.w(`${p}.input_layernorm.weight`), c.normEps); // [N, D]
            const mid = residualAdd(h, this.selfAttention(attnCtx, layer, attnIn, rotary)); // [N, D]
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
    const names = [...qwen3WeightShapes(this.config)].filter(([name, shape]) => shape.length === 2 && name !== 'model.embed_tokens.weight').map(([name]) => name);
    if (this.config.tiedEmbeddings) names.push('model.embed_tokens.weight');
    return names;
  }

  private proj(ctx: ForwardContext, module: string, x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, module, this.linearWeights(`${module}.weight`, `${module}.bias`, 'out_in'), ctx.hooks); // [N, out]
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor2D, rotary: ReturnType<typeof rotaryTables>): tf.Tensor2D {
    const c = this.config;
    const p = `model.layers.${layer}.self_attn`;
    // q_norm / k_norm: RMSNorm over each head's d dims, before RoPE.
    const query = rmsNorm(splitHeads(this.proj(ctx, `${p}.q_proj`, x), ctx.batchSize, c.heads, c.headDim), this.w(`${p}.q_norm.weight`), c.normEps); // [B, H, Tq, d]
    const key = rmsNorm(splitHeads(this.proj(ctx, `${p}.k_proj`, x), ctx.batchSize, c.kvHeads, c.headDim), this.w(`${p}.k_norm.weight`), c.normEps); // [B, Hkv, Tq, d]
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
