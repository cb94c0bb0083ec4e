// Gemma 3 config reading (the forward pass is checked against transformers by the gemma3* HF fixtures,
// src/main/engine/io/hf-fixtures.test.ts, and with every hook by hooks.test.ts).
import { describe, expect, it } from 'vitest';
import { resolveTargets } from '../methods/lora';
import { parseGemma3Config } from './gemma3';

const BASE = { model_type: 'gemma3_text', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 7, num_attention_heads: 4, vocab_size: 100 };

describe('parseGemma3Config', () => {
  it("takes transformers' defaults: 5 sliding + 1 global layers, head_dim 256, 1/√256 query scale, tied, window 4096", () => {
    const c = parseGemma3Config(BASE, 'config.json');
    expect(c.layerTypes).toEqual(['sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'sliding_attention', 'full_attention', 'sliding_attention']);
    expect(c).toMatchObject({
      headDim: 256,
      kvHeads: 4,
      queryPreAttnScalar: 256,
      tiedEmbeddings: true,
      slidingWindow: 4096,
      activation: 'gelu_new',
      rope: { theta: 1_000_000, scaling: null },
      localRope: { theta: 10_000, scaling: null },
      finalLogitSoftcap: null,
    });
  });

  it('reads sliding_window_pattern (older configs) and layer_types (newer ones, which win)', () => {
    expect(parseGemma3Config({ ...BASE, sliding_window_pattern: 2 }, 'config.json').layerTypes).toEqual([
      'sliding_attention',
      'full_attention',
      'sliding_attention',
      'full_attention',
      'sliding_attention',
      'full_attention',
      'sliding_attention',
    ]);
    const types = ['full_attention', 'full_attention', 'sliding_attention', 'full_attention', 'full_attention', 'full_attention', 'full_attention'];
    expect(parseGemma3Config({ ...BASE, sliding_window_pattern: 2, layer_types: types }, 'config.json').layerTypes).toEqual(types);
  });

  it('scales only the global layers’ RoPE', () => {
    const c = parseGemma3Config({ ...BASE, rope_scaling: { rope_type: 'linear', factor: 8 } }, 'config.json');
    expect(c.rope.scaling).toEqual({ type: 'linear', factor: 8 });
    expect(c.localRope.scaling).toBeNull();
  });

  it('refuses bad layer_types and bidirectional (embedding) models with one line naming the field', () => {
    expect(() => parseGemma3Config({ ...BASE, layer_types: ['full_attention'] }, 'config.json')).toThrow(
      expect.objectContaining({ field: 'layer_types', message: 'layer_types must list 7 entries, each "sliding_attention" or "full_attention"' }),
    );
    expect(() => parseGemma3Config({ ...BASE, use_bidirectional_attention: true }, 'config.json')).toThrow(expect.objectContaining({ field: 'use_bidirectional_attention' }));
    expect(() => parseGemma3Config({ ...BASE, final_logit_softcapping: -1 }, 'config.json')).toThrow(expect.objectContaining({ field: 'final_logit_softcapping' }));
  });

  it("LoRA's default targets are PEFT's for gemma3_text: q_proj and v_proj of every layer", () => {
    const c = parseGemma3Config({ ...BASE, num_hidden_layers: 2 }, 'config.json');
    expect(resolveTargets(c, 'default').map((m) => m.name)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
  });
});
