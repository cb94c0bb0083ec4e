// GPT-2: learned absolute positions, pre-LayerNorm blocks, fused c_attn projection and Conv1D weights
// stored [in, out], gelu_new MLP, LM head tied to the token embedding.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { activate, attention, layerNorm, linear, parseActivation, residualAdd, runBlock, type Activation } from './blocks';
import { BaseCausalLM, countParameters, type ForwardOptions, type ModelConfig } from './causal-lm';
import { ConfigFields } from './config-fields';
import { prepareForward, type ForwardContext } from './forward-context';

export interface Gpt2Config extends ModelConfig {
  architecture: 'gpt2';
  normEps: number;
  activation: Activation;
  /** Extra 1/(layer+1) factor on attention scores (scale_attn_by_inverse_layer_idx). */
  scaleByInverseLayer: boolean;
  scaleAttention: boolean;
}

export function parseGpt2Config(raw: Record<string, unknown>, file: string): Gpt2Config {
  const f = new ConfigFields(raw, file);
  const hidden = f.int('n_embd');
  const heads = f.int('n_head');
  f.require(hidden % heads === 0, 'n_head', `n_embd ${hidden} is not divisible by n_head ${heads}`);
  const config: Gpt2Config = {
    architecture: 'gpt2',
    vocabSize: f.int('vocab_size'),
    hidden,
    layers: f.int('n_layer'),
    heads,
    kvHeads: heads,
    headDim: hidden / heads,
    intermediate: f.int('n_inner', 4 * hidden),
    maxPositions: f.int('n_positions', 1024),
    // GPT2LMHeadModel always shares the head with wte.
    tiedEmbeddings: f.bool('tie_word_embeddings', true),
    dtype: 'float32',
    sourceDtype: 'F32',
    parameters: 0,
    bosTokenId: f.tokenId('bos_token_id'),
    eosTokenIds: f.tokenIds('eos_token_id'),
    padTokenId: f.tokenId('pad_token_id'),
    normEps: f.num('layer_norm_epsilon', 1e-5),
    activation: parseActivation(f.str('activation_function', 'gelu_new'), file, 'activation_function'),
    scaleByInverseLayer: f.bool('scale_attn_by_inverse_layer_idx', false),
    scaleAttention: f.bool('scale_attn_weights', true),
  };
  config.parameters = countParameters(gpt2WeightShapes(config));
  return config;
}

/** Every weight the model reads; Conv1D weights are [in, out]. */
export function gpt2WeightShapes(c: Gpt2Config): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const d = c.hidden;
  shapes.set('transformer.wte.weight', [c.vocabSize, d]);
  shapes.set('transformer.wpe.weight', [c.maxPositions, d]);
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.h.${i}`;
    shapes.set(`${p}.ln_1.weight`, [d]);
    shapes.set(`${p}.ln_1.bias`, [d]);
    shapes.set(`${p}.attn.c_attn.weight`, [d, 3 * d]);
    shapes.set(`${p}.attn.c_attn.bias`, [3 * d]);
    shapes.set(`${p}.attn.c_proj.weight`, [d, d]);
    shapes.set(`${p}.attn.c_proj.bias`, [d]);
    shapes.set(`${p}.ln_2.weight`, [d]);
    shapes.set(`${p}.ln_2.bias`, [d]);
    shapes.set(`${p}.mlp.c_fc.weight`, [d, c.intermediate]);
    shapes.set(`${p}.mlp.c_fc.bias`, [c.intermediate]);
    shapes.set(`${p}.mlp.c_proj.weight`, [c.intermediate, d]);
    shapes.set(`${p}.mlp.c_proj.bias`, [d]);
  }
  shapes.set('transformer.ln_f.weight', [d]);
  shapes.set('transformer.ln_f.bias', [d]);
  if (!c.tiedEmbeddings) shapes.set('lm_head.weight', [c.vocabSize, d]);
  return shapes;
}

export class Gpt2Model extends BaseCausalLM<Gpt2Config> {
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.beforeForward();
    return tf.tidy(() => {
      const c = this.config;
      const tokens = this.embeddingRows('transformer.wte.weight', inputIds.toInt()) as tf.Tensor3D; // [B, T, D]
      const { ctx, hidden } = prepareForward(c, inputIds, tokens, opts);
      if (ctx.keyLen > c.maxPositions) {
        throw new ApiError('invalid_argument', `sequence of ${ctx.keyLen} positions exceeds GPT-2's n_positions ${c.maxPositions}`);
      }
      const positions = this.embeddingRows('transformer.wpe.weight', ctx.positions) as tf.Tensor3D; // [B|1, Tq, D]
      const { batchSize, queryLen } = ctx;
      // The residual stream stays [B·Tq, D]: linear layers take it as is.
      let x = hidden.add(positions).reshape([batchSize * queryLen, c.hidden]) as tf.Tensor2D; // [N, D]
      for (let layer = 0; layer < c.layers; layer++) {
        const p = `transformer.h.${layer}`;
        x = runBlock(ctx, layer, x, (h) => {
          const attnIn = layerNorm(h, this.w(`${p}.ln_1.weight`), this.w(`${p}.ln_1.bias`), c.normEps); // [N, D]
          const mid = residualAdd(h, this.selfAttention(ctx, layer, attnIn)); // [N, D]
          const mlpIn = layerNorm(mid, this.w(`${p}.ln_2.weight`), this.w(`${p}.ln_2.bias`), c.normEps); // [N, D]
          return residualAdd(mid, this.mlp(ctx, layer, mlpIn)); // [N, D]
        });
      }
      x = layerNorm(x, this.w('transformer.ln_f.weight'), this.w('transformer.ln_f.bias'), c.normEps); // [N, D]
      const head = this.linearWeights(c.tiedEmbeddings ? 'transformer.wte.weight' : 'lm_head.weight', undefined, 'out_in'); // [V, D]
      return this.lmHead(x, ctx, opts, head, 'lm_head'); // [B, T|1, V] or [1, N, V]
    });
  }

  protected linearWeightNames(): string[] {
    const names = [...gpt2WeightShapes(this.config)].filter(([name, shape]) => shape.length === 2 && !name.startsWith('transformer.w')).map(([name]) => name);
    if (this.config.tiedEmbeddings) names.push('transformer.wte.weight');
    return names;
  }

  private conv1d(ctx: ForwardContext, name: string, x: tf.Tensor2D): tf.Tensor2D {
    return linear(x, name, this.linearWeights(`${name}.weight`, `${name}.bias`, 'in_out'), ctx.hooks);
  }

  private selfAttention(ctx: ForwardContext, layer: number, x: tf.Tensor2D): tf.Tensor2D {
    const c = this.config;
    const p = `transformer.h.${layer}.attn`;
    // [N, 3D] viewed as [B, Tq, 3, H, d]: one transpose brings q, k, v to the front, unstack splits them.
    const qkv = this.conv1d(ctx, `${p}.c_attn`, x).reshape([ctx.batchSize, ctx.queryLen, 3, c.heads, c.headDim]).transpose([2, 0, 3, 1, 4]); // [3, B, H, Tq, d]
    const [query, key, value] = tf.unstack(qkv) as tf.Tensor4D[]; // [B, H, Tq, d] each
    let scale = c.scaleAttention ? 1 / Math.sqrt(c.headDim) : 1;
    if (c.scaleByInverseLayer) scale /= layer + 1;
    const heads = attention(ctx, layer, query, key, value, { rotary: null, scale }); // [N, D]
    return this.conv1d(ctx, `${p}.c_proj`, heads); // [N, D]
  }

  private mlp(ctx: ForwardContext, layer: number, x: tf.Tensor2D): tf.Tensor2D {
    const p = `transformer.h.${layer}.mlp`;
    const inner = activate(this.conv1d(ctx, `${p}.c_fc`, x), this.config.activation); // [N, F]
    return this.conv1d(ctx, `${p}.c_proj`, inner); // [N, D]
  }
}
