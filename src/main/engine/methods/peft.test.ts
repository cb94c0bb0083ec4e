// Prefix-Tuning, Prompt Tuning and LoRA against Hugging Face PEFT itself: the same adapter tensors give the
// same logits, state-dict keys, saved prompt embeddings, merged weights and adapter_config fields. Fixture:
// tests/fixtures/peft/make_peft_reference.py (skipped with a message when it has not been generated).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { loadModel, type LoadedModel } from '../io/load-model';
import { SafetensorsReader } from '../io/safetensors';
import type { LoraAdapter } from './lora';
import { resolveTargets } from './lora';
import type { StateDict } from './method';
import type { PrefixAdapter } from './prefix';
import type { PromptAdapter } from './prompt';
import { getMethod, parseMethodOptions } from './registry';
import { HAS_STORIES, maxAbsDiff, MODEL_FIXTURES, PEFT_FIXTURES, STORIES_DIR } from './test-utils';

const FIXTURE = join(PEFT_FIXTURES, 'peft_reference.safetensors');
const FIXTURE_META = join(PEFT_FIXTURES, 'peft_reference.json');
const HAS_FIXTURE = existsSync(FIXTURE) && existsSync(FIXTURE_META);

interface PeftCase {
  name: string;
  model: string;
  method: 'prefix' | 'prompt' | 'lora';
  options: Record<string, unknown>;
  saved_keys: Record<string, number[]>;
  adapter_config: Record<string, unknown>;
  init_ids?: number[];
}

const meta: { cases: PeftCase[]; model_sha256: Record<string, string> } = HAS_FIXTURE ? JSON.parse(readFileSync(FIXTURE_META, 'utf8')) : { cases: [], model_sha256: {} };
const modelDir = (name: string): string => (name === 'stories260K-hf' ? STORIES_DIR : join(MODEL_FIXTURES, name));
const available = meta.cases.filter((c) => c.model !== 'stories260K-hf' || HAS_STORIES);

if (!HAS_FIXTURE) console.warn(`[peft.test] ${FIXTURE} missing: run .venv/bin/python tests/fixtures/peft/make_peft_reference.py`);

describe.skipIf(!HAS_FIXTURE)('PEFT parity (fixture from make_peft_reference.py)', () => {
  const models = new Map<string, LoadedModel>();
  let reader: SafetensorsReader;

  beforeAll(async () => {
    await initBackend('cpu');
    reader = SafetensorsReader.open(FIXTURE);
    for (const name of new Set(available.map((c) => c.model))) {
      const file = join(modelDir(name), 'model.safetensors');
      const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (hash !== meta.model_sha256[name]) throw new Error(`${file} changed since the PEFT fixture was made: rerun tests/fixtures/peft/make_peft_reference.py`);
      models.set(name, await loadModel(modelDir(name)));
    }
  });
  afterAll(() => {
    reader?.close();
    for (const m of models.values()) m.dispose();
  });

  const read = (name: string): { shape: number[]; data: Float32Array } => {
    const t = reader.read(name);
    return { shape: t.shape, data: Float32Array.from(t.data) };
  };

  it('covers prefix (with and without projection, GQA), prompt and LoRA on LLaMA, GPT-2 and GPT-NeoX', () => {
    expect(meta.cases.map((c) => c.name)).toEqual(
      expect.arrayContaining(['prefix_proj', 'prefix_noproj', 'prompt_random', 'lora_default', 'gpt2_lora_default', 'neox_lora_default']),
    );
    if (!HAS_STORIES) console.warn('[peft.test] stories260K-hf absent: its cases are skipped');
  });

  it.each(available.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const loaded = models.get(c.model)!;
    const model = loaded.model;
    const encode = loaded.tokenizer ? (text: string) => loaded.tokenizer!.encode(text) : undefined;
    const adapter = getMethod(c.method).attach(model, parseMethodOptions(c.method, c.options), { seed: 1, encode });
    const idsEntry = read(`${name}/input_ids`);
    const ids = tf.tensor2d(idsEntry.data, idsEntry.shape as [number, number], 'int32');
    try {
      const statePrefix = `${name}/state/`;
      const state: StateDict = {};
      for (const key of reader.tensors.keys()) if (key.startsWith(statePrefix)) state[key.slice(statePrefix.length)] = read(key);
      if (c.init_ids) {
        // TEXT init: our tokenizer gives PEFT's ids, and our init reproduces PEFT's embedding rows.
        expect(encode?.((c.options as { initText: string }).initText)).toEqual(c.init_ids);
        expect(maxAbsDiff(adapter.stateDict().prompt_embeddings.data, state.prompt_embeddings.data)).toBe(0);
      } else {
        adapter.loadStateDict(state);
      }

      const logits = tf.tidy(() => model.forward(ids, { hooks: adapter.hooks }).dataSync());
      expect(maxAbsDiff(logits, read(`${name}/logits`).data), 'logits').toBeLessThanOrEqual(1e-4);

      const config = c.adapter_config;
      if (c.method === 'lora') {
        const lora = adapter as LoraAdapter;
        const ours = Object.fromEntries(Object.entries(lora.stateDict()).map(([k, v]) => [k, v.shape]));
        expect(ours).toEqual(c.saved_keys);
        const merged = lora.mergedWeights();
        try {
          const mergedPrefix = `${name}/merged/`;
          const checked = [...reader.tensors.keys()].filter((k) => k.startsWith(mergedPrefix));
          expect(checked.length).toBeGreaterThan(0);
          for (const key of checked) {
            const weightName = key.slice(mergedPrefix.length);
            expect(merged.get(weightName)?.shape, weightName).toEqual(read(key).shape);
            expect(maxAbsDiff(merged.get(weightName)!.dataSync(), read(key).data), weightName).toBeLessThanOrEqual(1e-5);
          }
        } finally {
          tf.dispose([...merged.values()]);
        }
        const exported = lora.exportConfig();
        for (const field of ['r', 'lora_alpha', 'use_rslora', 'fan_in_fan_out', 'peft_type']) expect(exported[field], field).toEqual(config[field]);
        // PEFT's target list (expanded for all-linear) selects the same layers as ours.
        const theirs = resolveTargets(model.config, config.target_modules as string[]).map((m) => m.name);
        expect(lora.modules.map((m) => m.name)).toEqual(theirs);
      } else if (c.method === 'prefix') {
        const prefix = adapter as PrefixAdapter;
        const saved = read(`${name}/prompt_embeddings`);
        const ours = prefix.exportPromptEmbeddings();
        expect(ours.shape).toEqual(saved.shape);
        expect(maxAbsDiff(ours.data, saved.data)).toBeLessThanOrEqual(1e-5);
        const exported = prefix.exportConfig();
        for (const field of ['peft_type', 'num_virtual_tokens', 'token_dim', 'num_attention_heads', 'num_layers', 'encoder_hidden_size', 'prefix_projection']) {
          expect(exported[field], field).toEqual(config[field]);
        }
      } else {
        const exported = (adapter as PromptAdapter).exportConfig();
        for (const field of ['peft_type', 'num_virtual_tokens', 'token_dim', 'num_attention_heads', 'num_layers', 'prompt_tuning_init']) {
          expect(exported[field], field).toEqual(config[field]);
        }
      }
    } finally {
      ids.dispose();
      adapter.dispose();
    }
  });
});
