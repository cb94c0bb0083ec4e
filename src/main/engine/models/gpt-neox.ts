// GPT-NeoX / Pythia: fused query_key_value laid out per head as [H, 3, d], partial rotary (rotary_pct),
// LayerNorm, exact-GELU MLP, and the parallel residual x + attn(ln1 x) + mlp(ln2 x) when enabled.
import * as tf from '@tensorflow/tfjs';
import { activate, attention, layerNorm, linear, parseActivation, rotaryTables, type Activation } from './blocks';
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
    return tf.tidy(() => {
      const c = this.config;
      const embeddings = tf.gather(this.w('gpt_neox.embed_in.weight'), inputIds.toInt()) as tf.Tensor3D; // [B, T, D]
      const { ctx, hidden } = prepareForward(c, inputIds, embeddings, opts);
      const rotary = rotaryTables(c.rope, ctx.positions, ctx.keyLen); // [B|1, 1, Tq, rd] each
      let x = hidden; // [B, Tq, D]
      for (let layer = 0; layer < c.layers; layer++) {
        const p = `gpt_neox.layers.${layer}`;
        const norm = (name: string, input: tf.Tensor3D): tf.Tensor3D =>
          layerNorm(input, this.w(`${p}.${name}.weight`), this.w(`${p}.${name}.bias`), c.normEps); // [B, Tq, D]
        const attnOut = this.selfAttention(ctx, layer, norm('input_layernorm', x), rotary); // [B, Tq, D]
        if (c.parallelResidual) {
          x = x.add(attnOut).add(this.mlp(ctx, layer, norm('post_attention_layernorm', x))); // [B, Tq, D]
        } else {
          x = x.add(attnOut); // [B, Tq, D]
          x = x.add(this.mlp(ctx, layer, norm('post_attention_layernorm', x))); // [B, Tq, D]
        }
      }
      x = layerNorm(x, this.w('gpt_neox.final_layer_norm.weight'), this.w('gpt_neox.final_layer_norm.bias'), c.normEps); // [B, Tq, D]
      const [batchSize, queryLen, dModel] = x.shape;
      const start = (opts.logits ?? 'all') === 'last' ? queryLen - 1 : ctx.virtualTokens;
      const real = x.slice([0, start, 0], [batchSize, queryLen - start, dModel]); // [B, T|1, D]
      const head = this.w<tf.Tensor2D>(c.tiedEmbeddings ? 'gpt_neox.embed_in.weight' : 'embed_out.weight'); // [V, D]
      return linear(real, 'embed_out', head, undefined, 'out_in', ctx.hooks); // [B, T|1, V]
    });
  }

  private dense(ctx: ForwardContext, name: string, x: tf.Tensor3D): tf.Tensor3D {
    return linear(x, name, this.w(`${name}.weight`), this.maybe(`${name}.bias`), 'out_in', ctx.hooks);
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor3D, rotary: ReturnType<typeof rotaryTables>): tf.Tensor3D {
    const c = this.config;
    const p = `gpt_neox.layers.${layer}.attention`;
    const [batchSize, queryLen] = x.shape;
    const qkv = this.dense(ctx, `${p}.query_key_value`, x) // [B, Tq, 3D]
      .reshape([batchSize, queryLen, c.heads, 3 * c.headDim]) // [B, Tq, H, 3d]: per head q, k, v
      .transpose([0, 2, 1, 3]); // [B, H, Tq, 3d]
    const [query, key, value] = tf.split(qkv, 3, 3) as tf.Tensor4D[]; // [B, H, Tq, d] each
    const heads = attention(ctx, layer, query, key, value, { rotary }); // [B, Tq, D]
    return this.dense(ctx, `${p}.dense`, heads); // [B, Tq, D]
  }

  private mlp(ctx: ForwardContext, layer: number, x: tf.Tensor3D): tf.Tensor3D {
    const p = `gpt_neox.layers.${layer}.mlp`;
    const inner = activate(this.dense(ctx, `${p}.dense_h_to_4h`, x), this.config.activation); // [B, Tq, F]
    return this.dense(ctx, `${p}.dense_4h_to_h`, inner); // [B, Tq, D]
  }
}
