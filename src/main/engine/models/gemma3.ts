// Gemma 3 (text): (1 + w) RMSNorm before and after both attention and MLP, q/k RMSNorm per head, a GeGLU MLP
// (gelu_pytorch_tanh), token embeddings scaled by √D, query scale 1/√query_pre_attn_scalar, and local
// sliding-window layers (own RoPE base rope_local_base_freq, never rope-scaled) interleaved with global layers.
// Tied embeddings by default; final logit soft-capping where the config sets it.
import * as tf from '@tensorflow/tfjs';
import { attention, gatedActivation, gemmaRmsNorm, linear, parseActivation, residualAdd, rotaryTables, runBlock, splitHeads, type Activation } from './blocks';
import { BaseCausalLM, countParameters, type ForwardOptions, type ModelConfig } from './causal-lm';
import { ConfigFields } from './config-fields';
import { prepareForward, type ForwardContext } from './forward-context';
import { parseRopeScaling, type RopeConfig } from './rope';
import { slidingWindowContext } from './sliding-window';

export type Gemma3LayerType = 'sliding_attention' | 'full_attention';

export interface Gemma3Config extends ModelConfig {
  architecture: 'gemma3_text';
  normEps: number;
  /** RoPE of the global (full-attention) layers: rope_theta and rope_scaling. */
  rope: RopeConfig;
  /** RoPE of the sliding-window layers: rope_local_base_freq, no scaling. */
  localRope: RopeConfig;
  /** Per layer. */
  layerTypes: Gemma3LayerType[];
  /** Keys a sliding layer's query sees (itself included); null = no window. */
  slidingWindow: number | null;
  /** Attention scores are multiplied by 1/√queryPreAttnScalar. */
  queryPreAttnScalar: number;
  attentionBias: boolean;
  activation: Activation;
  finalLogitSoftcap: number | null;
}

/** transformers' Gemma3TextConfig defaults for the fields a config.json may omit. */
const DEFAULT_SLIDING_WINDOW_PATTERN = 6;

export function parseGemma3Config(raw: Record<string, unknown>, file: string): Gemma3Config {
  const f = new ConfigFields(raw, file);
  f.require(!f.bool('use_bidirectional_attention', false), 'use_bidirectional_attention', 'bidirectional attention (an embedding model) is not supported');
  const hidden = f.int('hidden_size');
  const heads = f.int('num_attention_heads');
  const kvHeads = f.int('num_key_value_heads', 4);
  const headDim = f.int('head_dim', 256);
  f.require(heads % kvHeads === 0, 'num_key_value_heads', `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
  f.require(headDim % 2 === 0, 'head_dim', `head_dim ${headDim} must be even for rotary embeddings`);
  const layers = f.int('num_hidden_layers');
  const maxPositions = f.int('max_position_embeddings', 131_072);
  const finalSoftcap = f.has('final_logit_softcapping') ? f.num('final_logit_softcapping') : null;
  f.require(finalSoftcap === null || finalSoftcap > 0, 'final_logit_softcapping', `final_logit_softcapping must be positive, got ${finalSoftcap}`);
  const config: Gemma3Config = {
    architecture: 'gemma3_text',
    vocabSize: f.int('vocab_size'),
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    intermediate: f.int('intermediate_size'),
    maxPositions,
    tiedEmbeddings: f.bool('tie_word_embeddings', true),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenIds: f.tokenIds('eos_token_id'),
    padTokenId: f.tokenId('pad_token_id'),
    normEps: f.num('rms_norm_eps', 1e-6),
    rope: { theta: f.num('rope_theta', 1_000_000), rotaryDim: headDim, scaling: parseRopeScaling(f, maxPositions) },
    localRope: { theta: f.num('rope_local_base_freq', 10_000), rotaryDim: headDim, scaling: null },
    layerTypes: parseLayerTypes(f, layers),
    slidingWindow: raw.sliding_window === null ? null : f.int('sliding_window', 4096),
    queryPreAttnScalar: f.num('query_pre_attn_scalar', 256),
    attentionBias: f.bool('attention_bias', false),
    activation: parseActivation(f.str('hidden_activation', f.str('hidden_act', 'gelu_pytorch_tanh')), file, f.has('hidden_activation') ? 'hidden_activation' : 'hidden_act'),
    // attn_logit_softcapping is read by neither transformers' Gemma3Attention (it never passes it on) nor
    // llama.cpp (its converter asserts it is null): ignored here too.
    finalLogitSoftcap: finalSoftcap,
  };
  f.require(config.queryPreAttnScalar > 0, 'query_pre_attn_scalar', `query_pre_attn_scalar must be positive, got ${config.queryPreAttnScalar}`);
  config.parameters = countParameters(gemma3WeightShapes(config));
  return config;
}

/** layer_types, else the older sliding_window_pattern (every n-th layer global), as transformers derives it. */
function parseLayerTypes(f: ConfigFields, layers: number): Gemma3LayerType[] {
  if (f.has('layer_types')) {
    const types = f.raw.layer_types;
    const isValid = Array.isArray(types) && types.length === layers && types.every((t) => t === 'sliding_attention' || t === 'full_attention');
    f.require(isValid, 'layer_types', `layer_types must list ${layers} entries, each "sliding_attention" or "full_attention"`);
    return types as Gemma3LayerType[];
  }
  const pattern = f.int('sliding_window_pattern', DEFAULT_SLIDING_WINDOW_PATTERN);
  return Array.from({ length: layers }, (_, i) => ((i + 1) % pattern ? 'sliding_attention' : 'full_attention'));
}

/** Every weight the model reads, with its shape ([out, in] for linear layers); the token embedding first. */
export function gemma3WeightShapes(c: Gemma3Config): Map<string, number[]> {
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
    shapes.set(`${p}.pre_feedforward_layernorm.weight`, [c.hidden]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.up_proj.weight`, [c.intermediate, c.hidden]);
    shapes.set(`${p}.mlp.down_proj.weight`, [c.hidden, c.intermediate]);
    shapes.set(`${p}.post_feedforward_layernorm.weight`, [c.hidden]);
  }
  shapes.set('model.norm.weight', [c.hidden]);
  if (!c.tiedEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, c.hidden]);
  return shapes;
}

export class Gemma3Model extends BaseCausalLM<Gemma3Config> {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.beforeForward();
    return tf.tidy(() => {
      const c = this.config;
      // transformers scales inside the embedding module (Gemma3TextScaledWordEmbedding), in the weights' dtype
      // (float32 here): virtual prompt tokens (PEFT's inputs_embeds) are prepended after the scale, unscaled.
      const tokens = this.embeddingRows('model.embed_tokens.weight', inputIds.toInt()).mul(Math.fround(Math.sqrt(c.hidden))) as tf.Tensor3D; // [B, T, D]
      const { ctx: globalCtx, hidden } = prepareForward(c, inputIds, tokens, opts);
      const localCtx = c.slidingWindow === null ? globalCtx : slidingWindowContext(globalCtx, c.slidingWindow);
      const globalRotary = rotaryTables(c.rope, globalCtx.positions, globalCtx.keyLen); // [B|1, 1, Tq, d] each
      const localRotary = rotaryTables(c.localRope, globalCtx.positions, globalCtx.keyLen);
      let x = hidden.reshape([globalCtx.batchSize * globalCtx.queryLen, c.hidden]) as tf.Tensor2D; // [N, D]
      for (let layer = 0; layer < c.layers; layer++) {
        const p = `model.layers.${layer}`;
        const isLocal = c.layerTypes[layer] === 'sliding_attention';
        const ctx = isLocal ? localCtx : globalCtx;
        const rotary = isLocal ? localRotary : globalRotary;
        x = runBlock(
          ctx,
          layer,
          x,
          (h) => {
            const attnIn = this.norm(h, `${p}.input_layernorm`); // [N, D]
            const attn = this.selfAttention(ctx, layer, attnIn, rotary); // [N, D]
            const mid = residualAdd(h, this.norm(attn, `${p}.post_attention_layernorm`)); // [N, D]
            const mlpIn = this.norm(mid, `${p}.pre_feedforward_layernorm`); // [N, D]
            return residualAdd(mid, this.norm(this.mlp(ctx, layer, mlpIn), `${p}.post_feedforward_layernorm`)); // [N, D]
          },
          [rotary.cos, rotary.sinSigned],
        );
      }
      x = this.norm(x, 'model.norm'); // [N, D]
      const head = this.linearWeights(c.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', undefined, 'out_in'); // [V, D]
      const cap = c.finalLogitSoftcap;
      return this.lmHead(x, globalCtx, opts, head, 'lm_head', cap === null ? undefined : (logits) => softcap(logits, cap)); // [B, T|1, V], [1, N, V] or [1, N, 1]
    });
  }

  protected linearWeightNames(): string[] {
    const names = [...gemma3WeightShapes(this.config)].filter(([name, shape]) => shape.length === 2 && name !== 'model.embed_tokens.weight').map(([name]) => name);
    if (this.config.tiedEmbeddings) names.push('model.embed_tokens.weight');
    return names;
  }

  private norm<T extends tf.Tensor>(x: T, module: string): T {
    return gemmaRmsNorm(x, this.w(`${module}.weight`), this.config.normEps);
  }

  private proj(ctx: ForwardContext, module: string, x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, module, this.linearWeights(`${module}.weight`, `${module}.bias`, 'out_in'), ctx.hooks); // [N, out]
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor2D, rotary: ReturnType<typeof rotaryTables>): tf.Tensor2D {
    const c = this.config;
    const p = `model.layers.${layer}.self_attn`;
    // q/k norms act per head, before RoPE: the hooks' pre-RoPE query is the normed one.
    const query = this.norm(splitHeads(this.proj(ctx, `${p}.q_proj`, x), ctx.batchSize, c.heads, c.headDim), `${p}.q_norm`); // [B, H, Tq, d]
    const key = this.norm(splitHeads(this.proj(ctx, `${p}.k_proj`, x), ctx.batchSize, c.kvHeads, c.headDim), `${p}.k_norm`); // [B, Hkv, Tq, d]
    const value = splitHeads(this.proj(ctx, `${p}.v_proj`, x), ctx.batchSize, c.kvHeads, c.headDim); // [B, Hkv, Tq, d]
    const heads = attention(ctx, layer, query, key, value, { rotary, scale: 1 / Math.sqrt(c.queryPreAttnScalar) }); // [N, H·d]
    return this.proj(ctx, `${p}.o_proj`, heads); // [N, D]
  }

  private mlp(ctx: ForwardContext, layer: number, x: tf.Tensor2D): tf.Tensor2D {
    const p = `model.layers.${layer}.mlp`;
    const gated = gatedActivation(this.proj(ctx, `${p}.gate_proj`, x), this.proj(ctx, `${p}.up_proj`, x), this.config.activation); // [N, F]
    return this.proj(ctx, `${p}.down_proj`, gated); // [N, D]
  }
}

/** cap · tanh(x / cap), Gemma's soft-capping. */
function softcap<T extends tf.Tensor>(x: T, cap: number): T {
  return tf.tanh(x.div(cap)).mul(cap) as T;
}
