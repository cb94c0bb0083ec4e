// Qwen3's config (explicit head_dim, per-layer sliding windows from layer_types or max_window_layers) and
// its windowed layers; logits against transformers are in io/hf-fixtures.test.ts (fixtures qwen3*).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { KVCache } from './kv-cache';
import { parseQwen3Config, qwen3WeightShapes } from './qwen3';
import { createTinyModel } from './tiny-model';

beforeAll(async () => {
  await initBackend('cpu');
});

const BASE = { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, vocab_size: 40 };

describe('qwen3 config', () => {
  it('takes head_dim as stated (heads·head_dim may exceed hidden) and adds a q/k norm of head_dim per layer', () => {
    const config = parseQwen3Config(BASE, 'config.json');
    const shapes = qwen3WeightShapes(config);
    expect(shapes.get('model.layers.0.self_attn.q_proj.weight')).toEqual([32, 16]);
    expect(shapes.get('model.layers.0.self_attn.o_proj.weight')).toEqual([16, 32]);
    expect(shapes.get('model.layers.2.self_attn.q_norm.weight')).toEqual([8]);
    expect(shapes.get('model.layers.2.self_attn.k_norm.weight')).toEqual([8]);
    expect(shapes.has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    expect(parseQwen3Config({ ...BASE, attention_bias: true }, 'config.json').parameters - config.parameters).toBe(3 * (32 + 16 + 16 + 16));
  });

  it('puts a window on the layers layer_types marks sliding, or from max_window_layers on; none without use_sliding_window', () => {
    expect(parseQwen3Config({ ...BASE, sliding_window: 4 }, 'c.json').layerWindows).toEqual([null, null, null]);
    expect(parseQwen3Config({ ...BASE, use_sliding_window: true, sliding_window: 4, max_window_layers: 1 }, 'c.json').layerWindows).toEqual([null, 4, 4]);
    const typed = { ...BASE, use_sliding_window: true, sliding_window: 4, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'] };
    expect(parseQwen3Config(typed, 'c.json').layerWindows).toEqual([4, null, 4]);
    // transformers >= 4.56 writes sliding_window null and layer_types when the window is off.
    expect(parseQwen3Config({ ...BASE, sliding_window: null, layer_types: ['full_attention', 'full_attention', 'full_attention'] }, 'c.json').layerWindows).toEqual([
      null,
      null,
      null,
    ]);
  });

  it('refuses layer_types that do not fit the layers, naming the file and field', () => {
    expect(() => parseQwen3Config({ ...BASE, layer_types: ['full_attention'] }, 'models/q/config.json')).toThrow(
      /layer_types must list 3 entries, each full_attention or sliding_attention/,
    );
    expect(() => parseQwen3Config({ ...BASE, layer_types: ['full_attention', 'local', 'full_attention'] }, 'models/q/config.json')).toThrow(
      expect.objectContaining({ code: 'bad_file', file: 'models/q/config.json', field: 'layer_types' }),
    );
  });
});

describe('qwen3 sliding-window layers', () => {
  const ids = [[4, 9, 13, 2, 30, 7, 11, 5, 21, 3]];

  it('hide keys window or more back in windowed layers only; a window longer than the input changes nothing', () => {
    const windowed = createTinyModel('qwen3', { seed: 2 }); // layer 1: window 4
    const wide = createTinyModel('qwen3', { seed: 2, overrides: { sliding_window: 64 } });
    const full = createTinyModel('qwen3', { seed: 2, overrides: { use_sliding_window: false } });
    try {
      const probs: number[][][][][] = [];
      const logits = tf.tidy(() => windowed.forward(tf.tensor2d(ids, undefined, 'int32'), { hooks: { onAttentionProbs: (_layer, p) => probs.push(p.arraySync()) } }));
      const rows0 = probs[0][0][0]; // layer 0 (full), head 0: [T, T]
      const rows1 = probs[1][0][0]; // layer 1 (window 4)
      for (let i = 0; i < ids[0].length; i++) {
        for (let j = 0; j <= i; j++) {
          expect(rows0[i][j]).toBeGreaterThan(0);
          if (i - j >= 4) expect(rows1[i][j]).toBe(0);
          else expect(rows1[i][j]).toBeGreaterThan(0);
        }
      }
      const same = tf.tidy(
        () =>
          wide
            .forward(tf.tensor2d(ids, undefined, 'int32'))
            .sub(full.forward(tf.tensor2d(ids, undefined, 'int32')))
            .abs()
            .max()
            .dataSync()[0],
      );
      expect(same).toBe(0);
      const differs = tf.tidy(
        () =>
          logits
            .sub(full.forward(tf.tensor2d(ids, undefined, 'int32')))
            .abs()
            .max()
            .dataSync()[0],
      );
      expect(differs).toBeGreaterThan(1e-3);
      logits.dispose();
    } finally {
      [windowed, wide, full].forEach((m) => m.dispose());
    }
  });

  it('decode one token at a time through the KV cache as the full forward does', () => {
    const model = createTinyModel('qwen3', { seed: 2 });
    const cache = new KVCache(model.config.layers);
    try {
      const full = tf.tidy(() => model.forward(tf.tensor2d(ids, undefined, 'int32')));
      const steps = ids[0].map((id) => tf.tidy(() => model.forward(tf.tensor2d([[id]], undefined, 'int32'), { cache })));
      const incremental = tf.concat(steps, 1);
      expect(tf.tidy(() => full.sub(incremental).abs().max().dataSync()[0])).toBeLessThan(1e-5);
      tf.dispose([full, incremental, ...steps]);
    } finally {
      cache.dispose();
      model.dispose();
    }
  });
});
