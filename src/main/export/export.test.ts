import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../engine/backend';
import { SafetensorsReader } from '../engine/io/safetensors';
import type { MethodName } from '../engine/methods/method';
import { fixturesDir, hasStories, stories } from '../engine/test-paths';
import { exportAdapter, type ExportFormat } from './export-adapter';
import { makeRandomAdapter } from './testing/random-adapter';

const model = (name: string): string => join(fixturesDir, name);

interface Case {
  name: string;
  fixture: string;
  method: MethodName;
  options: Record<string, unknown>;
  format: ExportFormat;
}

const CASES: Case[] = [
  ...['llama-gqa', 'gpt2', 'gpt-neox'].flatMap((fixture): Case[] => [
    { name: `LoRA → PEFT on ${fixture}`, fixture, method: 'lora', options: { rank: 4, alpha: 8 }, format: 'peft' },
    { name: `Prefix-Tuning (projected) → PEFT on ${fixture}`, fixture, method: 'prefix', options: { numVirtualTokens: 3 }, format: 'peft' },
    { name: `Prompt Tuning → PEFT on ${fixture}`, fixture, method: 'prompt', options: { numVirtualTokens: 4, init: 'random' }, format: 'peft' },
  ]),
  {
    name: 'LoRA all-linear rsLoRA → merged on llama-gqa',
    fixture: 'llama-gqa',
    method: 'lora',
    options: { rank: 2, alpha: 4, targets: 'all-linear', rsLora: true },
    format: 'merged',
  },
  { name: 'LoRA (Conv1D) → merged on gpt2', fixture: 'gpt2', method: 'lora', options: { rank: 4, alpha: 8 }, format: 'merged' },
  { name: 'full fine-tuning → merged on gpt-neox', fixture: 'gpt-neox', method: 'full', options: {}, format: 'merged' },
  { name: 'PT+ elu pre-RoPE → ptplus on llama-gqa', fixture: 'llama-gqa', method: 'ptplus', options: {}, format: 'ptplus' },
  { name: 'PT+ mlp kernel → ptplus on gpt2', fixture: 'gpt2', method: 'ptplus', options: { featureMap: 'mlp', phiDim: 8 }, format: 'ptplus' },
  { name: 'PT+ post-RoPE cross-head → ptplus on gpt-neox', fixture: 'gpt-neox', method: 'ptplus', options: { queryRope: 'post', memory: 'cross-head' }, format: 'ptplus' },
  { name: 'PT+ data-mean centring → ptplus on qwen2', fixture: 'qwen2', method: 'ptplus', options: { featureMap: 'gelu', phiCenter: 'data-mean', layers: [1] }, format: 'ptplus' },
];

describe('exportAdapter', () => {
  let home: string;
  let out: string;

  beforeAll(async () => {
    await initBackend('cpu');
    home = mkdtempSync(join(tmpdir(), 'prefixlab-export-home-'));
    out = mkdtempSync(join(tmpdir(), 'prefixlab-export-out-'));
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`${c.name}: reloads with logits within 1e-4 and writes parity.json`, async () => {
      const adapter = await makeRandomAdapter(home, model(c.fixture), c.method, c.options);
      const before = tf.memory().numTensors;
      const outDir = join(out, `${c.fixture}-${c.method}-${c.format}-${adapter.id}`);
      const result = await exportAdapter({ home, id: adapter.id, format: c.format, outDir });
      expect(tf.memory().numTensors).toBe(before);
      expect(result.parity.ok).toBe(true);
      expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(readdirSync(outDir).sort()).toEqual(result.files);
      const parity = JSON.parse(readFileSync(join(outDir, 'parity.json'), 'utf8'));
      expect(parity.inputs).toEqual(result.parity.inputs);
      expect(parity.logits).toHaveLength(3);
      if (c.format !== 'merged') {
        const reader = SafetensorsReader.open(join(outDir, 'adapter_model.safetensors'));
        expect(reader.metadata.format).toBe('pt');
        reader.close();
      } else {
        expect(result.files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json']));
      }
    });
  }

  it('writes PEFT config fields with GQA-adjusted prefix heads and fan_in_fan_out for GPT-2', async () => {
    const prefix = await makeRandomAdapter(home, model('llama-gqa'), 'prefix', { numVirtualTokens: 2 });
    const prefixDir = join(out, 'prefix-config');
    await exportAdapter({ home, id: prefix.id, format: 'peft', outDir: prefixDir });
    const config = JSON.parse(readFileSync(join(prefixDir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'PREFIX_TUNING',
      task_type: 'CAUSAL_LM',
      num_virtual_tokens: 2,
      token_dim: 32, // head_dim 16 × 2 KV heads
      num_attention_heads: 2,
      num_layers: 2,
      num_transformer_submodules: 1,
      prefix_projection: false,
      inference_mode: true,
      base_model_name_or_path: model('llama-gqa'),
    });
    const reader = SafetensorsReader.open(join(prefixDir, 'adapter_model.safetensors'));
    expect([...reader.tensors.values()].map((t) => [t.name, t.shape])).toEqual([['prompt_embeddings', [2, 2 * 2 * 32]]]);
    reader.close();

    const lora = await makeRandomAdapter(home, model('gpt2'), 'lora', { rank: 2, alpha: 4 });
    const loraDir = join(out, 'lora-config');
    await exportAdapter({ home, id: lora.id, format: 'peft', outDir: loraDir });
    const loraConfig = JSON.parse(readFileSync(join(loraDir, 'adapter_config.json'), 'utf8'));
    expect(loraConfig).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['c_attn'], fan_in_fan_out: true, use_rslora: false });
    const loraReader = SafetensorsReader.open(join(loraDir, 'adapter_model.safetensors'));
    expect(loraReader.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')?.shape).toEqual([2, 64]);
    expect(loraReader.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')?.shape).toEqual([192, 2]);
    loraReader.close();
  });

  it('writes the PREFIX_TUNING_PLUS config and per-layer memories', async () => {
    const adapter = await makeRandomAdapter(home, model('llama-gqa'), 'ptplus', { phiCenter: 'data-mean' });
    const dir = join(out, 'ptplus-config');
    await exportAdapter({ home, id: adapter.id, format: 'ptplus', outDir: dir });
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'PREFIX_TUNING_PLUS',
      feature_map: 'elu',
      query_rope: 'pre',
      per_head: true,
      phi_center: 'data-mean',
      num_layers: 2,
      num_attention_heads: 4,
      head_dim: 16,
      base_model_name_or_path: model('llama-gqa'),
    });
    const reader = SafetensorsReader.open(join(dir, 'adapter_model.safetensors'));
    expect(reader.tensors.get('base_model.model.model.layers.1.self_attn.ptplus_memory')?.shape).toEqual([4, 16, 16]);
    expect(reader.tensors.get('base_model.model.model.layers.0.self_attn.ptplus_phi_mean')?.shape).toEqual([4, 16]);
    reader.close();
  });

  it('exports a finished run by its id (its last checkpoint)', async () => {
    const adapter = await makeRandomAdapter(home, model('gpt2'), 'prompt', { numVirtualTokens: 2, init: 'random' });
    const ckpt = join(home, 'runs', 'run-done', 'checkpoints', 'step-000003');
    mkdirSync(ckpt, { recursive: true });
    copyFileSync(join(home, 'adapters', adapter.id, 'adapter.safetensors'), join(ckpt, 'adapter.safetensors'));
    writeFileSync(
      join(home, 'runs', 'run-done', 'manifest.json'),
      JSON.stringify({
        runId: 'run-done',
        status: 'finished',
        method: 'prompt',
        methodOptions: adapter.options,
        seed: 1,
        baseModel: { path: model('gpt2'), architecture: 'gpt2' },
        checkpoints: [{ step: 3, dir: 'checkpoints/step-000003' }],
      }),
    );
    const result = await exportAdapter({ home, id: 'run-done', format: 'peft', outDir: join(out, 'from-run') });
    expect(result.parity.ok).toBe(true);
  });

  it.skipIf(!hasStories())('merges LoRA into a llama2.c model as a Hugging Face folder', async () => {
    const adapter = await makeRandomAdapter(home, stories.llama2c, 'lora', { rank: 2 });
    const dir = join(out, 'llama2c-merged');
    const result = await exportAdapter({ home, id: adapter.id, format: 'merged', outDir: dir });
    expect(result.files).toEqual(['.prefixlab-export.json', 'config.json', 'generation_config.json', 'model.safetensors', 'parity.json']);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'llama', num_key_value_heads: 4, tie_word_embeddings: true });
  });

  describe('refuses bad requests with one line and overwrites nothing', () => {
    let loraId: string;
    beforeAll(async () => {
      loraId = (await makeRandomAdapter(home, model('llama-gqa'), 'lora', { rank: 2 })).id;
    });

    it('unknown id, unfinished run, unknown format and a format the method lacks', async () => {
      await expect(exportAdapter({ home, id: 'nope', format: 'peft', outDir: join(out, 'x1') })).rejects.toThrow('no adapter or run "nope"');
      mkdirSync(join(home, 'runs', 'run-live'), { recursive: true });
      writeFileSync(join(home, 'runs', 'run-live', 'manifest.json'), JSON.stringify({ runId: 'run-live', status: 'running', method: 'lora' }));
      await expect(exportAdapter({ home, id: 'run-live', format: 'peft', outDir: join(out, 'x2') })).rejects.toThrow('run run-live is running; only finished runs can be exported');
      await expect(exportAdapter({ home, id: loraId, format: 'onnx' as ExportFormat, outDir: join(out, 'x3') })).rejects.toThrow(/unknown export format "onnx"/);
      await expect(exportAdapter({ home, id: loraId, format: 'ptplus', outDir: join(out, 'x4') })).rejects.toThrow(
        'lora adapters export as peft, merged, gguf-lora or gguf, not ptplus',
      );
      for (const name of ['x1', 'x2', 'x3', 'x4']) expect(existsSync(join(out, name))).toBe(false);
    });

    it('an existing output folder needs force; force replaces only an empty folder or an earlier export', async () => {
      const dir = join(out, 'exists');
      mkdirSync(dir);
      writeFileSync(join(dir, 'keep.txt'), 'mine');
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: dir })).rejects.toThrow(
        /already exists; choose another folder, or replace it \(--force on the command line/,
      );
      expect(readdirSync(dir)).toEqual(['keep.txt']);
      // A user's folder: force refuses it and deletes nothing.
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: dir, force: true })).rejects.toThrow(
        /is not an earlier PrefixLab export \(no \.prefixlab-export\.json\) and is not empty \(keep\.txt\); replacing it would delete them/,
      );
      expect(readdirSync(dir)).toEqual(['keep.txt']);
      // An empty folder: replaced.
      const empty = join(out, 'empty');
      mkdirSync(empty);
      const result = await exportAdapter({ home, id: loraId, format: 'peft', outDir: empty, force: true });
      expect(readdirSync(empty).sort()).toEqual(['.prefixlab-export.json', 'adapter_config.json', 'adapter_model.safetensors', 'parity.json']);
      expect(result.files).toEqual(['.prefixlab-export.json', 'adapter_config.json', 'adapter_model.safetensors', 'parity.json']);
      // An earlier export (its marker lists every file in it): replaced whole.
      const before = readFileSync(join(empty, 'parity.json'), 'utf8');
      await exportAdapter({ home, id: loraId, format: 'merged', outDir: empty, force: true });
      expect(readdirSync(empty)).toContain('model.safetensors');
      expect(readdirSync(empty)).not.toContain('adapter_model.safetensors');
      expect(readFileSync(join(empty, 'parity.json'), 'utf8')).not.toBe(before);
      expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
      // An earlier export a person added a file to: refused, nothing deleted.
      writeFileSync(join(empty, 'notes.md'), 'my notes');
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: empty, force: true })).rejects.toThrow(/holds files the earlier export did not write \(notes\.md\)/);
      expect(readFileSync(join(empty, 'notes.md'), 'utf8')).toBe('my notes');
      expect(readdirSync(empty)).toContain('model.safetensors');
    });

    it('an unwritable path or one overlapping the registry or base model', async () => {
      writeFileSync(join(out, 'a-file'), 'x');
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: join(out, 'a-file', 'sub') })).rejects.toMatchObject({
        file: join(out, 'a-file'),
        message: 'exists but is not a folder',
      });
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: join(out, 'a-file') })).rejects.toThrow(/exists and is not a folder/);
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: home, force: true })).rejects.toThrow(/ is the data folder /);
      await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: join(home, 'adapters', loraId), force: true })).rejects.toThrow(
        / lies inside the data folder's adapters /,
      );
      await expect(exportAdapter({ home, id: loraId, format: 'merged', outDir: model('llama-gqa'), force: true })).rejects.toThrow(
        / is (the base model|the model of adapter .*) \(/,
      );
      if (process.getuid?.() !== 0) {
        const locked = join(out, 'locked');
        mkdirSync(locked);
        chmodSync(locked, 0o500);
        await expect(exportAdapter({ home, id: loraId, format: 'peft', outDir: join(locked, 'x') })).rejects.toThrow(/permission denied/);
        chmodSync(locked, 0o700);
      }
      expect(existsSync(join(home, 'adapters', loraId, 'adapter.safetensors'))).toBe(true);
    });
  });
});
