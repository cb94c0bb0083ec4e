// gguf-lora on a real quantised model, SmolLM2-135M-Instruct Q4_1 (a `llama` GGUF: its Q/K rows are permuted
// in the file, so lora_b's rows must be too), checked by llama.cpp itself through node-llama-cpp:
//  - a LoRA trained 3 steps at a high learning rate (it moves the logits by whole units) through `prefixlab train`
//    and exported with `prefixlab export --format gguf-lora`: llama.cpp with adapter.gguf agrees with our
//    engine within GGUF_CHECK_THRESHOLDS (these runs are where the thresholds come from: docs/export.md);
//  - an untrained LoRA (B = 0): llama.cpp with the adapter gives exactly its own base distribution.
// Skipped, with the reason, where the model cache is absent (python3 scripts/models/fetch-models.py fetches it).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../cli/cli-harness';
import { initBackend } from '../../engine/backend';
import { loadModel } from '../../engine/io/load-model';
import { getMethod, parseMethodOptions } from '../../engine/methods/registry';
import { hashModelFiles, saveAdapter } from '../../registry/adapter-store';
import { exportAdapter } from '../export-adapter';
import { GGUF_CHECK_THRESHOLDS, llamaCppLogProbs } from '../llama-cpp-check';
import { modelCache, realModels } from '../../engine/test-paths';

const LOW_BIT = GGUF_CHECK_THRESHOLDS['low-bit'];

const CACHE = modelCache;
const MODEL = join(CACHE, realModels.smollm2.file);
const SIZE = realModels.smollm2.size;
const present = existsSync(MODEL) && statSync(MODEL).size === SIZE;
if (!present) console.warn(`skipping gguf-lora on SmolLM2: SmolLM2-135M-Instruct.Q4_1.gguf is not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

const REVIEWS = ['I loved this film.', 'What a waste of time.', 'A warm, funny story.', 'Dull and far too long.', 'The cast is wonderful.', 'I want my money back.'];

let home: string;
let out: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-lora-smol-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-lora-smol-out-'));
});
afterAll(() => {
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!present)('gguf-lora on SmolLM2-135M-Instruct Q4_1, checked by llama.cpp', () => {
  it('a LoRA trained 3 steps exports with `prefixlab export --format gguf-lora`; llama.cpp agrees within the thresholds', async () => {
    const data = join(out, 'reviews.jsonl');
    writeFileSync(data, REVIEWS.map((text, i) => JSON.stringify({ text, label: i % 2 === 0 ? 'positive' : 'negative' })).join('\n') + '\n');
    const trainer = ['rank=4', 'alpha=8', 'batchSize=2', 'maxLength=32', 'warmupSteps=0', 'evalEvery=0', 'maxEvalExamples=2'];
    const args = ['train', '--model', MODEL, '--data', data, '--method', 'lora', '--steps', '3', '--lr', '0.02', '--eval-split', '2', '--seed', '1'];
    const trained = await cli([...args, ...trainer.flatMap((s) => ['--set', s]), '--backend', 'wasm', '--home', home, '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    const run = JSON.parse(trained.stdout) as { runId: string; status: string };
    expect(run.status).toBe('finished');

    const outDir = join(out, 'trained');
    const exported = await cli(['export', run.runId, '--format', 'gguf-lora', '--out', outDir, '--backend', 'wasm', '--home', home, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const result = JSON.parse(exported.stdout);
    const cpp = result.parity.llamaCpp;
    console.log(`SmolLM2 Q4_1 trained LoRA: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toFixed(4)}`);
    expect(cpp).toMatchObject({ ok: true, thresholds: LOW_BIT });
    expect(result.ollamaCommand).toMatch(/^ollama create prefixlab-[a-z0-9._-]+ -f \S+\/Modelfile$/);
    const modelfile = readFileSync(join(outDir, 'Modelfile'), 'utf8');
    expect(modelfile).toContain(`FROM ${MODEL}\nADAPTER ./adapter.gguf\nTEMPLATE """{{- range .Messages }}<|im_start|>`);
    expect(modelfile).toContain('PARAMETER stop "<|im_end|>"');

    // The adapter changes llama.cpp's distribution by far more than the check allows: the check has teeth.
    const inputs = result.parity.inputs as number[][];
    const base = await llamaCppLogProbs({ model: MODEL, inputs, vocabSize: 49152 });
    const adapted = await llamaCppLogProbs({ model: MODEL, adapter: join(outDir, 'adapter.gguf'), inputs, vocabSize: 49152 });
    let moved = 0;
    base.forEach((rows, i) => rows.forEach((row, t) => row.forEach((v, k) => (moved = Math.max(moved, Math.abs(v - adapted[i][t][k]))))));
    console.log(`SmolLM2 Q4_1 trained LoRA moves llama.cpp's log p by up to ${moved.toFixed(3)}`);
    expect(moved).toBeGreaterThan(2 * LOW_BIT.maxAbsLogProbDiff);
  }, 900_000);

  it('an untrained LoRA (B = 0) gives exactly llama.cpp’s base distribution', async () => {
    await initBackend('wasm');
    const loaded = await loadModel(MODEL);
    let id: string;
    try {
      const options = parseMethodOptions('lora', { rank: 4, alpha: 8 });
      const adapter = getMethod('lora').attach(loaded.model, options as never, { seed: 3 });
      try {
        const manifest = await saveAdapter(home, {
          name: 'untrained',
          method: 'lora',
          options,
          state: adapter.stateDict(),
          baseModel: { path: MODEL, architecture: 'llama', parameters: loaded.model.config.parameters, files: await hashModelFiles(MODEL) },
          seed: 3,
          backend: 'wasm',
        });
        id = manifest.id;
      } finally {
        adapter.dispose();
      }
    } finally {
      loaded.dispose();
    }
    const outDir = join(out, 'untrained');
    const result = await exportAdapter({ home, id, format: 'gguf-lora', outDir });
    const cpp = result.parity.llamaCpp!;
    if ('skipped' in cpp) throw new Error(cpp.skipped);
    console.log(`SmolLM2 Q4_1 untrained LoRA: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toFixed(4)}`);
    expect(cpp.ok).toBe(true);

    const inputs = result.parity.inputs;
    const base = await llamaCppLogProbs({ model: MODEL, inputs, vocabSize: 49152 });
    const withAdapter = await llamaCppLogProbs({ model: MODEL, adapter: join(outDir, 'adapter.gguf'), inputs, vocabSize: 49152 });
    expect(withAdapter).toEqual(base);
  }, 600_000);
});
