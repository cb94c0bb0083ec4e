// PEFT export names each family's own modules: a LoRA trained two steps on the Phi-3 fixture targets the fused
// qkv_proj (and, with all-linear, gate_up_proj), on the Qwen3 fixture q_proj/v_proj; adapter_config.json's
// target_modules and the tensor names/shapes are what PEFT writes for those modules, and the export reloads
// with the app's own logits (parity). python/tests/test_interop_families.py loads the same exports in PEFT.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainerOptions } from '@shared/trainer-options';
import { initBackend } from '../engine/backend';
import { loadModel } from '../engine/io/load-model';
import { SafetensorsReader } from '../engine/io/safetensors';
import { getMethod, parseMethodOptions } from '../engine/methods/registry';
import { fixturesDir } from '../engine/test-paths';
import { toyExamples } from '../engine/train/test-fixtures';
import { Trainer } from '../engine/train/trainer';
import { hashModelFiles, saveAdapter } from '../registry/adapter-store';
import { exportAdapter } from './export-adapter';

interface Case {
  fixture: string;
  options: Record<string, unknown>;
  targetModules: string[];
  /** Module path under model.layers.N → [out, in] of its weight. */
  modules: Record<string, [number, number]>;
}

const RANK = 4;
const CASES: Case[] = [
  // Phi-3: hidden 64, 4 heads / 2 KV heads of 16 → qkv_proj 64 → 64 + 2·32 = 128; gate_up_proj 64 → 2·128.
  { fixture: 'phi3-longrope', options: { rank: RANK }, targetModules: ['qkv_proj'], modules: { 'self_attn.qkv_proj': [128, 64] } },
  {
    fixture: 'phi3-longrope-short',
    options: { rank: RANK, targets: 'all-linear' },
    targetModules: ['down_proj', 'gate_up_proj', 'o_proj', 'qkv_proj'],
    modules: { 'self_attn.qkv_proj': [128, 64], 'self_attn.o_proj': [64, 64], 'mlp.gate_up_proj': [256, 64], 'mlp.down_proj': [64, 128] },
  },
  // Qwen3: head_dim 32, so q_proj 64 → 128 and v_proj 64 → 64.
  { fixture: 'qwen3', options: { rank: RANK }, targetModules: ['q_proj', 'v_proj'], modules: { 'self_attn.q_proj': [128, 64], 'self_attn.v_proj': [64, 64] } },
];

describe('PEFT export of LoRA on the Phi-3 and Qwen3 fixtures', () => {
  let home: string;
  let out: string;
  beforeAll(async () => {
    await initBackend('cpu');
    home = mkdtempSync(join(tmpdir(), 'prefixlab-families-home-'));
    out = mkdtempSync(join(tmpdir(), 'prefixlab-families-out-'));
  });
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it.each(CASES)('$fixture with $options: target_modules and tensor names are the family’s own', async ({ fixture, options: raw, targetModules, modules }) => {
    const modelPath = resolve(fixturesDir, fixture);
    const loaded = await loadModel(modelPath);
    const options = parseMethodOptions('lora', raw);
    const adapter = getMethod('lora').attach(loaded.model, options as never, { seed: 3 });
    let manifestId: string;
    try {
      const plan = { ...trainerOptions.parse({ batchSize: 2, checkpointEvery: 0, evalEvery: 0, warmupSteps: 0 }), learningRate: 0.01, totalSteps: 2, seed: 3 };
      const trainer = new Trainer({ runId: 'families', model: loaded.model, adapter, examples: toyExamples(4), plan, padId: 0, checkpointRoot: null });
      const outcome = await trainer.run();
      trainer.dispose();
      expect(outcome.status).toBe('finished');
      expect(outcome.step).toBe(2);
      const state = adapter.stateDict();
      // Trained: B moved off its zero init.
      expect(Object.entries(state).some(([name, t]) => name.includes('lora_B') && t.data.some((v) => v !== 0))).toBe(true);
      const manifest = await saveAdapter(home, {
        name: `lora ${fixture}`,
        method: 'lora',
        options,
        state,
        baseModel: { path: modelPath, architecture: loaded.model.config.architecture, parameters: loaded.model.config.parameters, files: await hashModelFiles(modelPath) },
        seed: 3,
        backend: 'cpu',
      });
      manifestId = manifest.id;
    } finally {
      adapter.dispose();
      loaded.dispose();
    }

    const outDir = join(out, fixture);
    const result = await exportAdapter({ home, id: manifestId, format: 'peft', outDir });
    expect(result.parity.ok).toBe(true);
    expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const config = JSON.parse(readFileSync(join(outDir, 'adapter_config.json'), 'utf8'));
    expect(config.peft_type).toBe('LORA');
    expect([...config.target_modules].sort()).toEqual(targetModules);

    const reader = SafetensorsReader.open(join(outDir, 'adapter_model.safetensors'));
    try {
      const shapes = Object.fromEntries([...reader.tensors].map(([name, info]) => [name, info.shape]));
      const expected: Record<string, number[]> = {};
      for (const layer of [0, 1]) {
        for (const [module, [outDim, inDim]] of Object.entries(modules)) {
          expected[`base_model.model.model.layers.${layer}.${module}.lora_A.weight`] = [RANK, inDim];
          expected[`base_model.model.model.layers.${layer}.${module}.lora_B.weight`] = [outDim, RANK];
        }
      }
      expect(shapes).toEqual(expected);
    } finally {
      reader.close();
    }
  });
});
