// Phi-3's config (partial rotary, longrope, 'su' → longrope) and its fused projections: a Phi-3 model equals a
// LLaMA model given the same weights split (qkv_proj rows = q, k, v; gate_up_proj rows = gate, up), and LoRA
// targets the fused modules by name. Logits against transformers (longrope, partial rotary, sliding window)
// are in io/hf-fixtures.test.ts (fixtures phi3-longrope*).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { loraMethod, loraOptions, resolveTargets } from '../methods/lora';
import { LlamaModel, llamaWeightShapes, parseLlamaConfig } from './llama';
import { parsePhi3Config, phi3WeightShapes, type Phi3Model } from './phi3';
import { createTinyModel } from './tiny-model';

beforeAll(async () => {
  await initBackend('cpu');
});

const BASE = { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 40, max_position_embeddings: 64 };

describe('phi3 config', () => {
  it('fuses q/k/v and gate/up into one weight each, with the shapes transformers gives them', () => {
    const shapes = phi3WeightShapes(parsePhi3Config(BASE, 'config.json'));
    expect(shapes.get('model.layers.1.self_attn.qkv_proj.weight')).toEqual([16 + 2 * 8, 16]);
    expect(shapes.get('model.layers.1.mlp.gate_up_proj.weight')).toEqual([48, 16]);
    expect([...shapes.keys()].filter((name) => /\.(q|k|v|gate|up)_proj\./.test(name))).toEqual([]);
  });

  it('rotates partial_rotary_factor of each head, maps rope type su to longrope and defaults original_max_position_embeddings to 4096', () => {
    const config = parsePhi3Config(
      { ...BASE, max_position_embeddings: 8192, partial_rotary_factor: 0.5, rope_scaling: { type: 'su', short_factor: [1], long_factor: [2] } },
      'config.json',
    );
    expect(config.rope.rotaryDim).toBe(2);
    expect(config.rope.scaling).toEqual({
      type: 'longrope',
      shortFactor: [1],
      longFactor: [2],
      originalMaxPositions: 4096,
      attentionFactor: Math.sqrt(1 + Math.log(2) / Math.log(4096)),
    });
    expect(() => parsePhi3Config({ ...BASE, rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [2] } }, 'phi/config.json')).toThrow(
      /short_factor has 1 entries; this model's 4 rotary dims need 2/,
    );
    expect(() => parsePhi3Config({ ...BASE, partial_rotary_factor: 0.1 }, 'phi/config.json')).toThrow(/partial_rotary_factor 0.1 gives 0 rotary dims/);
  });
});

describe('phi3 model', () => {
  it('equals LLaMA with the fused weights split (row order q, k, v and gate, up)', () => {
    const phi = createTinyModel('phi3', { seed: 4, overrides: { rope_scaling: null, partial_rotary_factor: 1 } });
    const c = phi.config;
    const llamaConfig = parseLlamaConfig({ model_type: 'llama', ...BASE, intermediate_size: 32, rms_norm_eps: 1e-5 }, 'llama/config.json');
    const weights = new Map<string, tf.Tensor>();
    for (const name of llamaWeightShapes(llamaConfig).keys()) {
      const fused = name.replace(/(q|k|v)_proj/, 'qkv_proj').replace(/(gate|up)_proj/, 'gate_up_proj');
      const source = phi.weights.get(fused)!;
      if (fused === name) weights.set(name, source.clone());
      else if (name.includes('_proj') && fused.endsWith('qkv_proj.weight')) {
        const [q, k, v] = tf.split(source, [c.heads * c.headDim, c.kvHeads * c.headDim, c.kvHeads * c.headDim], 0);
        weights.set(name, { q, k, v }[name.match(/\.(q|k|v)_proj/)![1] as 'q']!);
      } else {
        const [gate, up] = tf.split(source, 2, 0);
        weights.set(name, name.includes('gate_proj') ? gate : up);
      }
    }
    const llama = new LlamaModel(llamaConfig, weights);
    try {
      const ids = tf.tensor2d([[3, 17, 8, 30, 1, 22, 9]], undefined, 'int32');
      const diff = tf.tidy(() => phi.forward(ids).sub(llama.forward(ids)).abs().max().dataSync()[0]);
      expect(diff).toBeLessThan(1e-5);
      ids.dispose();
    } finally {
      phi.dispose();
      llama.dispose();
    }
  });

  it('names the fused modules to wrapLinear, and LoRA targets qkv_proj by default', () => {
    const model = createTinyModel('phi3') as Phi3Model;
    try {
      const names = new Set<string>();
      tf.dispose(model.forward(tf.tensor2d([[1, 2, 3]], undefined, 'int32'), { hooks: { wrapLinear: (name, x, base) => (names.add(name), base(x)) } }));
      expect([...names].sort()).toEqual([
        'lm_head',
        'model.layers.0.mlp.down_proj',
        'model.layers.0.mlp.gate_up_proj',
        'model.layers.0.self_attn.o_proj',
        'model.layers.0.self_attn.qkv_proj',
        'model.layers.1.mlp.down_proj',
        'model.layers.1.mlp.gate_up_proj',
        'model.layers.1.self_attn.o_proj',
        'model.layers.1.self_attn.qkv_proj',
      ]);
      expect(resolveTargets(model.config, 'default').map((m) => [m.name, m.inDim, m.outDim])).toEqual([
        ['model.layers.0.self_attn.qkv_proj', 16, 32],
        ['model.layers.1.self_attn.qkv_proj', 16, 32],
      ]);
      const adapter = loraMethod.attach(model, loraOptions.parse({ targets: ['gate_up_proj'] }), { seed: 1 });
      expect(Object.keys(adapter.stateDict()).sort()).toEqual([
        'base_model.model.model.layers.0.mlp.gate_up_proj.lora_A.weight',
        'base_model.model.model.layers.0.mlp.gate_up_proj.lora_B.weight',
        'base_model.model.model.layers.1.mlp.gate_up_proj.lora_A.weight',
        'base_model.model.model.layers.1.mlp.gate_up_proj.lora_B.weight',
      ]);
      adapter.dispose();
    } finally {
      model.dispose();
    }
  });
});
