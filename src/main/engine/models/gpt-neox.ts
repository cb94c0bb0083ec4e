// GPT-NeoX / Pythia: fused query_key_value laid out per head as [H, 3, d], partial rotary (rotary_pct),
// LayerNorm, exact-GELU MLP, and the parallel residual x + attn(ln1 x) + mlp(ln2 x) when enabled.
import * as tf from '@tensorflow/tfjs';
import { activate, attention, layerNorm, linear, parseActivation, residualAdd, rotaryTables, runBlock, type Activation } from './blocks';
import { BaseCausalLM, countParameters, type ForwardOptions, type ModelConfig } from './causal-lm';
import { ConfigFields } from './config-fields';
import { prepareForward, type ForwardContext } from './forward-context';
import { parseRopeScaling, type RopeConfig } from './rope';

export interface GptNeoxConfig extends ModelConfig {
  architecture: 'gpt_neox';
  normEps: number;
  rope: RopeConfig;
  activation: Activation;
  parallelResidual: boolean;
  attentionBias: boolean;
}

export function parseGptNeoxConfig(raw: Record<string, unknown>, file: string): GptNeoxConfig {
  const f = new ConfigFields(raw, file);
  const hidden = f.int('hidden_size');
  const heads = f.int('num_attention_heads');
  f.require(hidden % heads === 0, 'num_attention_heads', `hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  const headDim = hidden / heads;
  // Newer transformers call it partial_rotary_factor / rope_theta; Pythia checkpoints say rotary_pct / rotary_emb_base.
  const rotaryPct = f.has('partial_rotary_factor') ? f.num('partial_rotary_factor') : f.num('rotary_pct', 0.25);
  const rotaryDim = Math.floor(headDim * rotaryPct);
  f.require(rotaryDim % 2 === 0 && rotaryDim > 0, 'rotary_pct', `rotary_pct ${rotaryPct} gives ${rotaryDim} rotary dims; need an even number > 0`);
  const maxPositions = f.int('max_position_embeddings', 2048);
  const config: GptNeoxConfig = {
    architecture: 'gpt_neox',
    vocabSize: f.int('vocab_size'),
    hidden,
    layers: f.int('num_hidden_layers'),
    heads,
    kvHeads: heads,
    headDim,
    intermediate: f.int('intermediate_size', 4 * hidden),
    maxPositions,
    tiedEmbeddings: f.bool('tie_word_embeddings', false),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenIds: f.tokenIds('eos_token_id'),
    padTokenId: f.tokenId('pad_token_id'),
    normEps: f.num('layer_norm_eps', 1e-5),
    rope: {
      theta: f.has('rope_theta') ? f.num('rope_theta') : f.num('rotary_emb_base', 10000),
      rotaryDim,
      scaling: parseRopeScaling(f, maxPositions),
    },
    activation: parseActivation(f.str('hidden_act', 'gelu'), file, 'hidden_act'),
    parallelResidual: f.bool('use_parallel_residual', true),
    attentionBias: f.bool('attention_bias', true),
  };
  config.parameters = countParameters(gptNeoxWeightShapes(config));
  return config;
}

export function gptNeoxWeightShapes(c: GptNeoxConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const d = c.hidden;
  shapes.set('gpt_neox.embed_in.weight', [c.vocabSize, d]);
  for (let i = 0; i < c.layers; i++) {
    const p = `gpt_neox.layers.${i}`;
    for (const norm of ['input_layernorm', 'post_attention_layernorm']) {
      shapes.set(`${p}.${norm}.weight`, [d]);
      shapes.set(`${p}.${norm}.bias`, [d]);
    }
    shapes.set(`${p}.attention.query_key_value.weight`, [3 * d, d]);
    shapes.set(`${p}.attention.dense.weight`, [d, d]);
    if (c.attentionBias) {
      shapes.set(`${p}.attention.query_key_value.bias`, [3 * d]);
      shapes.set(`${p}.attention.dense.bias`, [d]);
    }
    shapes.set(`${p}.mlp.dense_h_to_4h.weight`, [c.intermediate, d]);
    shapes.set(`${p}.mlp.dense_h_to_4h.bias`, [c.intermediate]);
    shapes.set(`${p}.mlp.dense_4h_to_h.weight`, [d, c.intermediate]);
    shapes.set(`${p}.mlp.dense_4h_to_h.bias`, [d]);
  }
  shapes.set('gpt_neox.final_layer_norm.weight', [d]);
  shapes.set('gpt_neox.final_layer_norm.bias', [d]);
  if (!c.tiedEmbeddings) shapes.set('embed_out.weight', [c.vocabSize, d]);
  return shapes;
}

export class GptNeoxModel extends BaseCausalLM<GptNeoxConfig> {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.beforeForward();
    return tf.tidy(() => {
      const c = this.config;
      const embeddings = this.embeddingRows('gpt_neox.embed_in.weight', inputIds.toInt()) as tf.Tensor3D; // [B, T, D]
      const { ctx, hidden } = prepareForward(c, inputIds, embeddings, opts);
      const rotary = rotaryTables(c.rope, ctx.positions, ctx.keyLen); // [B|1, 1, Tq, rd] each
      // The residual stream stays [B·Tq, D]: linear layers take it as is.
      let x = hidden.reshape([ctx.batchSize * ctx.queryLen, c.hidden]) as tf.Tensor2D; // [N, D]
      for (let layer = 0; layer < c.layers; layer++) {
        const p = `gpt_neox.layers.${layer}`;
        const norm = (name: string, input: tf.Tensor2D): tf.Tensor2D => layerNorm(input, this.w(`${p}.${name}.weight`), this.w(`${p}.${name}.bias`), c.normEps); // [N, D]
        x = runBlock(
          ctx,
          layer,
          x,
          (h) => {
            const attnOut = this.selfAttention(ctx, layer, norm('input_layernorm', h), rotary); // [N, D]
            if (c.parallelResidual) return residualAdd(residualAdd(h, attnOut), this.mlp(ctx, layer, norm('post_attention_layernorm', h))); // [N, D]
            const mid = residualAdd(h, attnOut); // [N, D]
            return residualAdd(mid, this.mlp(ctx, layer, norm('post_attention_layernorm', mid))); // [N, D]
          },
          [rotary.cos, rotary.sinSigned],
        );
      }
      x = layerNorm(x, this.w('gpt_neox.final_layer_norm.weight'), this.w('gpt_neox.final_layer_norm.bias'), c.normEps); // [N, D]
      const head = this.linearWeights(c.tiedEmbeddings ? 'gpt_neox.embed_in.weight' : 'embed_out.weight', undefined, 'out_in'); // [V, D]
      return this.lmHead(x, ctx, opts, head, 'embed_out'); // [B, T|1, V] or [1, N, V]
    });
  }

  protected linearWeightNames(): string[] {
    const names = [...gptNeoxWeightShapes(this.config)].filter(([name, shape]) => shape.length === 2 && name !== 'gpt_neox.embed_in.weight').map(([name]) => name);
    if (this.config.tiedEmbeddings) names.push('gpt_neox.embed_in.weight');
    return names;
  }

  private dense(ctx: ForwardContext, name: string, x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, name, this.linearWeights(`${name}.weight`, `${name}.bias`, 'out_in'), ctx.hooks);
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor2D, rotary: ReturnType<typeof rotaryTables>): tf.Tensor2D {
    const c = this.config;
    const p = `gpt_neox.layers.${layer}.attention`;
    const qkv = this.dense(ctx, `${p}.query_key_value`, x) // [N, 3D]
      .reshape([ctx.batchSize, ctx.queryLen, c.heads, 3, c.headDim]) // [B, Tq, H, 3, d]: per head q, k, v
      .transpose([3, 0, 2, 1, 4]); // [3, B, H, Tq, d]
    const [query, key, value] = tf.unstack(qkv) as tf.Tensor4D[]; // [B, H, Tq, d] each
    const heads = attention(ctx, layer, query, key, value, { rotary }); // [N, D]
    return this.dense(ctx, `${p}.dense`, heads); // [N, D]
  }

  private mlp(ctx: ForwardContext, layer: number, x: tf.Tensor2D): tf.Tensor2D {
    const p = `gpt_neox.layers.${layer}.mlp`;
    const inner = activate(this.dense(ctx, `${p}.dense_h_to_4h`, x), this.config.activation); // [N, F]
    return this.dense(ctx, `${p}.dense_4h_to_h`, inner); // [N, D]
  }
}
