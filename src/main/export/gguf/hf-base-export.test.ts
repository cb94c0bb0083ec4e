// GGUF exports of adapters whose base is a Hugging Face folder (issue 18's proof on stories260K): the base is
// written as GGUF (base.gguf beside adapter.gguf; the merged model.gguf with tokenizer and chat template), and
// llama.cpp itself (node-llama-cpp 3.21.1) checks each export against our engine. Also: llama.cpp tokenizes
// text with our written stories260K GGUF as our HF tokenizer does, an untrained (B = 0) adapter gives llama.cpp's
// base distribution, the tiny llama-gqa fixture (Q/K permutation, GQA) passes, and the refusals are one line.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../cli/cli-harness';
import { initBackend } from '../../engine/backend';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { loadModel } from '../../engine/io/load-model';
import { getMethod, parseMethodOptions } from '../../engine/methods/registry';
import { fixturesDir, hasStories, stories } from '../../engine/test-paths';
import { hashModelFiles, saveAdapter } from '../../registry/adapter-store';
import { exportAdapter, type ExportResult } from '../export-adapter';
import { GGUF_CHECK_THRESHOLDS, llamaCppLogProbs } from '../llama-cpp-check';
import { makeRandomAdapter } from '../testing/random-adapter';
import { writeHfGguf } from './hf-base-gguf';
import { MERGED_GGUF_THRESHOLDS } from './merged-gguf';

const CORPUS = resolve(__dirname, '../../../../tests/fixtures/gguf/tokenizer_corpus.json');
const STORIES = [
  'Once upon a time there was a little cat.',
  'The dog ran to the park.',
  'Lily had a red ball.',
  'Tom was sad and cried.',
  'The sun was warm.',
  'She smiled at her mom.',
];
const storiesPresent = hasStories();

let home: string;
let out: string;
beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-hf-gguf-export-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-hf-gguf-export-out-'));
});
afterAll(() => {
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

function llamaCppOf(result: Pick<ExportResult, 'parity'>) {
  const cpp = result.parity.llamaCpp!;
  expect(cpp).toBeDefined();
  if ('skipped' in cpp) throw new Error(`llama.cpp did not run: ${cpp.skipped}`);
  return cpp;
}

function maxMove(a: Float32Array[][], b: Float32Array[][]): number {
  let moved = 0;
  a.forEach((rows, i) => rows.forEach((row, t) => row.forEach((v, k) => (moved = Math.max(moved, Math.abs(v - b[i][t][k]))))));
  return moved;
}

describe.skipIf(!storiesPresent)('stories260K (Hugging Face folder) → GGUF, checked by llama.cpp', () => {
  let runId: string;
  beforeAll(async () => {
    const data = join(out, 'stories.jsonl');
    writeFileSync(data, STORIES.map((text, i) => JSON.stringify({ text, label: i % 2 === 0 ? 'yes' : 'no' })).join('\n') + '\n');
    const trainer = ['rank=4', 'alpha=8', 'batchSize=2', 'maxLength=32', 'warmupSteps=0', 'evalEvery=0', 'maxEvalExamples=2'];
    const args = ['train', '--model', stories.hf, '--data', data, '--method', 'lora', '--steps', '3', '--lr', '0.05', '--eval-split', '2', '--seed', '1'];
    const trained = await cli([...args, ...trainer.flatMap((s) => ['--set', s]), '--backend', 'cpu', '--home', home, '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    const run = JSON.parse(trained.stdout) as { runId: string; status: string };
    expect(run.status).toBe('finished');
    runId = run.runId;
  }, 300_000);

  it('a LoRA trained 3 steps, `export --format gguf-lora`: base.gguf + adapter.gguf; llama.cpp agrees within the F32 thresholds', async () => {
    const outDir = join(out, 'stories-lora');
    const exported = await cli(['export', runId, '--format', 'gguf-lora', '--out', outDir, '--backend', 'cpu', '--home', home, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const result = JSON.parse(exported.stdout) as ExportResult;
    expect(readdirSync(outDir)).toEqual(expect.arrayContaining(['base.gguf', 'adapter.gguf', 'Modelfile', 'README.txt', 'parity.json']));
    const cpp = llamaCppOf(result);
    console.log(
      `stories260K trained LoRA (gguf-lora on base.gguf F32): llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`,
    );
    expect(cpp).toMatchObject({ ok: true, thresholds: GGUF_CHECK_THRESHOLDS.f32 });

    const base = await readGgufFile(join(outDir, 'base.gguf'));
    expect(base.metadata).toMatchObject({
      'general.architecture': 'llama',
      'general.type': 'model',
      'general.file_type': 0,
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.add_bos_token': true,
    });
    expect(new Set(base.tensors.map((t) => t.type))).toEqual(new Set(['F32']));
    const modelfile = readFileSync(join(outDir, 'Modelfile'), 'utf8');
    expect(modelfile).toContain('\nFROM ./base.gguf\nADAPTER ./adapter.gguf\n');
    expect(modelfile).toContain('PARAMETER stop "</s>"');
    expect(readFileSync(join(outDir, 'README.txt'), 'utf8')).toContain('llama-cli -m base.gguf --lora adapter.gguf');

    // The trained adapter moves llama.cpp's distribution by far more than the check allows: the check has teeth.
    const inputs = (result.parity as unknown as { inputs: number[][] }).inputs;
    const plain = await llamaCppLogProbs({ model: join(outDir, 'base.gguf'), inputs, vocabSize: 512 });
    const adapted = await llamaCppLogProbs({ model: join(outDir, 'base.gguf'), adapter: join(outDir, 'adapter.gguf'), inputs, vocabSize: 512 });
    const moved = maxMove(plain, adapted);
    console.log(`stories260K trained LoRA moves llama.cpp's log p by up to ${moved.toFixed(3)}`);
    expect(moved).toBeGreaterThan(2 * GGUF_CHECK_THRESHOLDS.f32.maxAbsLogProbDiff);
  }, 300_000);

  it.each(['f16', 'q8_0'] as const)(
    'the same LoRA merged, `--format gguf --quant %s`: a complete GGUF; llama.cpp agrees within the thresholds',
    async (quant) => {
      const outDir = join(out, `stories-merged-${quant}`);
      const result = await exportAdapter({ home, id: runId, format: 'gguf', outDir, quant });
      expect(result.files).toEqual(expect.arrayContaining(['model.gguf', 'Modelfile', 'README.txt', 'parity.json']));
      expect(result.parity.ok).toBe(true);
      const cpp = llamaCppOf(result);
      console.log(`stories260K merged ${quant}: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`);
      expect(cpp).toMatchObject({ ok: true, thresholds: MERGED_GGUF_THRESHOLDS[quant] });
      const file = await readGgufFile(join(outDir, 'model.gguf'));
      expect(file.metadata).toMatchObject({ 'general.architecture': 'llama', 'general.file_type': quant === 'f16' ? 1 : 7, 'tokenizer.ggml.model': 'llama' });
      expect((file.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(512);
      expect(readFileSync(join(outDir, 'Modelfile'), 'utf8')).toContain('\nFROM ./model.gguf\n');
    },
    300_000,
  );

  it('an untrained LoRA (B = 0) gives exactly llama.cpp’s distribution on base.gguf', async () => {
    const loaded = await loadModel(stories.hf);
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
          baseModel: { path: stories.hf, architecture: 'llama', parameters: loaded.model.config.parameters, files: await hashModelFiles(stories.hf) },
          seed: 3,
          backend: 'cpu',
        });
        id = manifest.id;
      } finally {
        adapter.dispose();
      }
    } finally {
      loaded.dispose();
    }
    const outDir = join(out, 'stories-untrained');
    const result = await exportAdapter({ home, id, format: 'gguf-lora', outDir });
    expect(llamaCppOf(result).ok).toBe(true);
    const inputs = result.parity.inputs;
    const base = await llamaCppLogProbs({ model: join(outDir, 'base.gguf'), inputs, vocabSize: 512 });
    const withAdapter = await llamaCppLogProbs({ model: join(outDir, 'base.gguf'), adapter: join(outDir, 'adapter.gguf'), inputs, vocabSize: 512 });
    expect(withAdapter).toEqual(base);
  }, 300_000);

  it('llama.cpp tokenizes the corpus with our stories260K GGUF as our HF tokenizer does', async () => {
    const hf = await loadModel(stories.hf);
    const path = join(out, 'stories260K.gguf');
    await writeHfGguf({ path, folder: stories.hf, config: hf.model.config, weight: (n) => hf.model.weights.get(n)?.dataSync() as Float32Array, type: 'f32', name: 'stories260K' });
    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never' });
    const vocab = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const texts = (JSON.parse(readFileSync(CORPUS, 'utf8')) as { texts: { name: string; text: string }[] }).texts;
      const all = [...texts, ...STORIES.map((text, i) => ({ name: `story ${i}`, text }))];
      const differ: string[] = [];
      for (const { name, text } of all) {
        // With special-token parsing, as transformers matches added tokens (<s>, </s>, <unk>) in the text.
        const theirs = [...vocab.tokenize(text, true)].map(Number);
        const ours = hf.tokenizer!.encode(text, { addSpecialTokens: false });
        if (JSON.stringify(theirs) !== JSON.stringify(ours))
          differ.push(`${name}: llama.cpp ${JSON.stringify(theirs).slice(0, 120)} vs ours ${JSON.stringify(ours).slice(0, 120)}`);
      }
      expect(differ).toEqual([]);
    } finally {
      await vocab.dispose();
      hf.dispose();
    }
  }, 120_000);
});

describe('tiny llama-gqa (Hugging Face folder: Q/K permutation, GQA) → gguf-lora and merged gguf', () => {
  it('gguf-lora writes base.gguf; llama.cpp with the adapter gives our logits', async () => {
    const adapter = await makeRandomAdapter(home, join(fixturesDir, 'llama-gqa'), 'lora', { rank: 4, alpha: 8, targets: 'all-linear' });
    const outDir = join(out, 'llama-gqa-lora');
    const result = await exportAdapter({ home, id: adapter.id, format: 'gguf-lora', outDir });
    expect(result.files).toEqual(expect.arrayContaining(['base.gguf', 'adapter.gguf', 'Modelfile', 'README.txt', 'parity.json']));
    const cpp = llamaCppOf(result);
    console.log(`llama-gqa gguf-lora: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`);
    expect(cpp.top1Agreement).toBe(1);
    expect(cpp.maxAbsLogProbDiff).toBeLessThan(1e-3);
    const merged = await exportAdapter({ home, id: adapter.id, format: 'gguf', outDir: join(out, 'llama-gqa-merged') });
    const m = llamaCppOf(merged);
    console.log(`llama-gqa merged f16: llama.cpp top-1 ${m.top1Agreement} of ${m.positions}, max |Δ log p| ${m.maxAbsLogProbDiff.toExponential(2)}`);
    expect(m.ok).toBe(true);
  }, 120_000);
});

describe('tiny gemma3 (Hugging Face folder: norms stored plus one, layer pattern 2) → gguf-lora and merged gguf', () => {
  /** The fixture with query_pre_attn_scalar = head_dim (32), the query scale llama.cpp's gemma3 always uses. */
  function gemma3Copy(): string {
    const copy = join(home, 'gemma3-scale-32');
    if (!existsSync(copy)) {
      cpSync(join(fixturesDir, 'gemma3'), copy, { recursive: true });
      const file = join(copy, 'config.json');
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), query_pre_attn_scalar: 32 }, null, 2));
    }
    return copy;
  }

  it('gguf-lora writes base.gguf; llama.cpp with the adapter gives our logits; the merged gguf passes its check', async () => {
    const adapter = await makeRandomAdapter(home, gemma3Copy(), 'lora', { rank: 4, alpha: 8, targets: 'all-linear' });
    const result = await exportAdapter({ home, id: adapter.id, format: 'gguf-lora', outDir: join(out, 'gemma3-lora') });
    expect(result.files).toEqual(expect.arrayContaining(['base.gguf', 'adapter.gguf', 'Modelfile', 'README.txt', 'parity.json']));
    const cpp = llamaCppOf(result);
    console.log(`gemma3 gguf-lora: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`);
    expect(cpp.top1Agreement).toBe(1);
    // GELU-tanh: ggml's CPU GELU reads an F16 table (hf-base-gguf.test.ts: 2.1e-3 without an adapter).
    expect(cpp.maxAbsLogProbDiff).toBeLessThan(1e-2);
    const merged = await exportAdapter({ home, id: adapter.id, format: 'gguf', outDir: join(out, 'gemma3-merged') });
    const m = llamaCppOf(merged);
    console.log(`gemma3 merged f16: llama.cpp top-1 ${m.top1Agreement} of ${m.positions}, max |Δ log p| ${m.maxAbsLogProbDiff.toExponential(2)}`);
    expect(m.ok).toBe(true);
  }, 120_000);
});

describe('HF-folder GGUF export refusals', () => {
  it('a gemma3 folder whose query_pre_attn_scalar is not what llama.cpp uses: one line, nothing written', async () => {
    const adapter = await makeRandomAdapter(home, join(fixturesDir, 'gemma3'), 'lora', { rank: 2 });
    for (const format of ['gguf-lora', 'gguf'] as const) {
      const outDir = join(out, `gemma3-${format}`);
      await expect(exportAdapter({ home, id: adapter.id, format, outDir })).rejects.toThrow(
        /^config\.json's query_pre_attn_scalar 24 is not 32, the query scale llama\.cpp's gemma3 always uses \(head_dim\), so llama\.cpp would run a different model; export with --format merged \/ peft$/,
      );
      expect(existsSync(outDir)).toBe(false);
    }
  }, 60_000);

  it.skipIf(!storiesPresent)(
    'a llama2.c checkpoint base: one line',
    async () => {
      const adapter = await makeRandomAdapter(home, stories.llama2c, 'lora', { rank: 2 });
      await expect(exportAdapter({ home, id: adapter.id, format: 'gguf-lora', outDir: join(out, 'l2c') })).rejects.toThrow(
        /--format gguf-lora needs a GGUF or Hugging Face folder base model, and .*stories260K\.bin is a llama2\.c checkpoint/,
      );
    },
    60_000,
  );
});
