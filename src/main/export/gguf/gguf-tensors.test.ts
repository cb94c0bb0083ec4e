// HF weights → GGUF tensors against files llama.cpp's converter wrote (tests/fixtures/gguf/tiny/, made by
// make_tiny_ggufs.py after convert_hf_to_gguf.py): the weights our loader reads from <arch>.gguf (F32), mapped
// back, must give that file's tensors bit for bit, and with --quant q8_0 exactly <arch>.Q8_0.gguf's tensor
// table (names, shapes, types: the converter's F32/F16-fallback rules) and bytes. The llama Q/K permutation and
// Gemma's norms (+1) are checked on the cached real models (skipped, saying so, without them).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { ggufShapeOf, toHfLayout, type GgufWeightSource } from '../../engine/io/gguf/gguf-layout';
import { inspectGguf } from '../../engine/io/gguf/gguf-model';
import { GgufTensorReader } from '../../engine/io/gguf/read-tensor';
import { ggufTensorType, ggufTensorsOf, toGgufLayout } from './gguf-tensors';
import { quantizeF16 } from './quantize';
import { modelCache, realModels } from '../../engine/test-paths';

const TINY = join(import.meta.dirname, '../../../../tests/fixtures/gguf/tiny');
const ARCHS = ['qwen2', 'qwen3', 'phi3', 'gpt2', 'gptneox'];

/** The HF weights our loader reads from a GGUF file (dequantized, layouts undone), plus what it knows of the file. */
async function hfWeightsOf(path: string) {
  const info = await inspectGguf(path);
  const reader = GgufTensorReader.open(info.file);
  const weights = new Map<string, Float32Array>();
  const raw = new Map<string, Uint8Array>();
  try {
    for (const [name] of info.shapes) {
      const source = info.sources.get(name)!;
      const { info: t, data } = reader.read(source.tensor);
      weights.set(name, toHfLayout(source, data, t.shape));
    }
    for (const t of info.file.tensors) raw.set(t.name, reader.readBytes(t.name));
  } finally {
    reader.close();
  }
  const map = { architecture: String(info.file.metadata['general.architecture']), sources: info.sources, shapes: info.shapes };
  return { info, weights, raw, map };
}

describe('HF weights → GGUF tensors, against the converter’s tiny files', () => {
  for (const arch of ARCHS) {
    it(`${arch}: F32 weights back to ${arch}.gguf, and q8_0 equal to ${arch}.Q8_0.gguf byte for byte`, async () => {
      const f32 = await hfWeightsOf(join(TINY, `${arch}.gguf`));
      // The F32 file's own data: the layout inverse restores it bit for bit.
      for (const [name, hfShape] of f32.map.shapes) {
        const source = f32.map.sources.get(name)!;
        const back = toGgufLayout(source, f32.weights.get(name)!, hfShape);
        expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(f32.raw.get(source.tensor)!)), `${arch} ${source.tensor}`).toBe(true);
      }
      const q8 = await hfWeightsOf(join(TINY, `${arch}.Q8_0.gguf`));
      const ours = ggufTensorsOf(f32.map, (name) => f32.weights.get(name), 'q8_0');
      const converted = new Map(q8.info.file.tensors.map((t) => [t.name, t]));
      for (const t of ours) {
        const theirs = converted.get(t.name);
        expect(theirs, `${arch}: converter has ${t.name}`).toBeDefined();
        expect({ name: t.name, shape: t.shape, type: t.type }).toEqual({ name: theirs!.name, shape: theirs!.shape, type: theirs!.type });
        expect(Buffer.from(t.data).equals(Buffer.from(q8.raw.get(t.name)!)), `${arch} ${t.name} bytes`).toBe(true);
      }
      // Every converter tensor is ours, except extra ones the loader does not map as weights (Phi-3's rope factors).
      const extra = q8.info.file.tensors.map((t) => t.name).filter((n) => !ours.some((t) => t.name === n));
      expect(extra).toEqual(arch === 'phi3' ? ['rope_factors_long.weight', 'rope_factors_short.weight'] : []);
    });
  }

  it('f16: matrices as F16 (our encoder), norms, biases and position embeddings F32', async () => {
    const gpt2 = await hfWeightsOf(join(TINY, 'gpt2.gguf'));
    const tensors = ggufTensorsOf(gpt2.map, (name) => gpt2.weights.get(name), 'f16');
    const types = Object.fromEntries(tensors.map((t) => [t.name, t.type]));
    expect(types['token_embd.weight']).toBe('F16');
    expect(types['blk.0.attn_qkv.weight']).toBe('F16');
    expect(types['position_embd.weight']).toBe('F32');
    expect(types['blk.0.attn_qkv.bias']).toBe('F32');
    expect(types['blk.0.attn_norm.weight']).toBe('F32');
    const qkv = tensors.find((t) => t.name === 'blk.0.attn_qkv.weight')!;
    const f32 = gpt2.raw.get('blk.0.attn_qkv.weight')!;
    expect(qkv.data).toEqual(quantizeF16(new Float32Array(f32.buffer.slice(f32.byteOffset, f32.byteOffset + f32.byteLength))));
  });

  it('the converter’s type rules', () => {
    expect(ggufTensorType('blk.0.attn_q.weight', [64, 64], 'q8_0')).toBe('Q8_0');
    expect(ggufTensorType('blk.0.attn_q.weight', [48, 64], 'q8_0')).toBe('F16'); // rows not in 32-value blocks
    expect(ggufTensorType('blk.0.attn_q.weight', [48, 64], 'f16')).toBe('F16');
    expect(ggufTensorType('blk.0.attn_q.bias', [64], 'q8_0')).toBe('F32');
    expect(ggufTensorType('blk.0.attn_k_norm.weight', [64], 'f16')).toBe('F32');
    expect(ggufTensorType('output_norm.weight', [64], 'q8_0')).toBe('F32');
    expect(ggufTensorType('position_embd.weight', [64, 128], 'q8_0')).toBe('F32');
  });

  it('refuses a non-finite weight, and an F16 overflow, naming the weight', () => {
    const source: GgufWeightSource = { tensor: 'blk.0.ffn_up.weight' };
    const map = { architecture: 'qwen2', sources: new Map([['model.layers.0.mlp.up_proj.weight', source]]), shapes: new Map([['model.layers.0.mlp.up_proj.weight', [2, 32]]]) };
    const nan = new Float32Array(64);
    nan[5] = NaN;
    expect(() => ggufTensorsOf(map, () => nan, 'q8_0')).toThrow(ApiError);
    expect(() => ggufTensorsOf(map, () => nan, 'q8_0')).toThrow(/model\.layers\.0\.mlp\.up_proj\.weight holds a non-finite value \(NaN\) at index 5/);
    const big = new Float32Array(64).fill(1e5);
    expect(() => ggufTensorsOf(map, () => big, 'f16')).toThrow(/up_proj\.weight holds 100000, beyond F16's range.*--quant q8_0/);
    expect(() => ggufTensorsOf(map, () => new Float32Array(64).fill(1e7), 'q8_0')).toThrow(/up_proj\.weight holds 10000000 \(in a 32-value block\), beyond Q8_0's range/);
    expect(ggufTensorsOf(map, () => big, 'q8_0')[0].type).toBe('Q8_0');
  });
});

const MODELS = modelCache;
const SMOL = join(MODELS, realModels.smollm2.file);
const GEMMA = join(MODELS, realModels.gemma3.file);

describe('HF weights → GGUF tensors on real converter files', () => {
  for (const [label, path, names] of [
    ['SmolLM2 (llama: Q/K rows permuted)', SMOL, ['blk.0.attn_q.weight', 'blk.0.attn_k.weight', 'blk.3.attn_k.weight', 'blk.0.attn_norm.weight']],
    ['Gemma 3 (norms stored + 1)', GEMMA, ['blk.0.attn_q.weight', 'blk.0.attn_k_norm.weight', 'blk.1.post_ffw_norm.weight', 'output_norm.weight']],
  ] as const) {
    it.skipIf(!existsSync(path))(`${label}: our weights map back onto the file's tensors${existsSync(path) ? '' : ` (skipped: ${path} not cached)`}`, async () => {
      const info = await inspectGguf(path);
      const reader = GgufTensorReader.open(info.file);
      try {
        const hfName = new Map([...info.sources].map(([hf, s]) => [s.tensor, hf]));
        for (const tensor of names) {
          const name = hfName.get(tensor)!;
          const source = info.sources.get(name)!;
          const { info: t, data } = reader.read(tensor);
          let hf = toHfLayout(source, data, t.shape);
          if (label.startsWith('Gemma') && name.endsWith('norm.weight')) hf = hf.map((w) => w - 1); // what the loader does
          const map = { architecture: String(info.file.metadata['general.architecture']), sources: new Map([[name, source]]), shapes: new Map([[name, info.shapes.get(name)!]]) };
          const [out] = ggufTensorsOf(map, () => hf, 'f16');
          expect(out.name).toBe(tensor);
          expect(out.shape).toEqual(t.shape);
          expect(out.shape).toEqual(ggufShapeOf(source, info.shapes.get(name)!));
          const back = out.type === 'F32' ? new Float32Array(out.data.buffer.slice(0)) : null;
          const ref = out.type === 'F32' ? data : quantizeF16(data);
          if (back) {
            // (w + 1) − 1 + 1 in float32: within an ulp of the stored value.
            for (let i = 0; i < data.length; i++) expect(Math.abs(back[i] - data[i])).toBeLessThanOrEqual(Math.abs(data[i]) * 2 ** -23 * 2);
          } else {
            expect(Buffer.from(out.data).equals(Buffer.from(ref as Uint8Array)), `${tensor} rows in the file's order`).toBe(true);
          }
        }
      } finally {
        reader.close();
      }
    });
  }
});
