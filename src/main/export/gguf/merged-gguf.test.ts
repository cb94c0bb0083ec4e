// `export --format gguf --quant f16|q8_0`: the merged model as one complete GGUF, checked by our loader (equal to
// the same rounded weights in memory) and by llama.cpp itself (node-llama-cpp 3.21.1, prebuilt CPU binary)
// against the in-app model. Tiny F32 GGUF fixtures (tests/fixtures/gguf/tiny) cover the converter's layouts
// (none: qwen2; transposed Conv1D: gpt2; regrouped fused QKV: gptneox) for a LoRA, and full fine-tuning; the
// real SmolLM2-135M-Instruct Q4_1 (llama: Q/K permutation) measures the agreement quantised compute allows
// (skipped, saying so, when it is not cached). Also: metadata copied, the Modelfile, the refusals.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { modelCache, realModels } from '../../engine/test-paths';
import { EXPORT_MARKER_FILE, exportAdapter, type ExportResult } from '../export-adapter';
import { makeRandomAdapter } from '../testing/random-adapter';
import { mergedMetadata } from './merged-gguf';

const TINY = resolve(__dirname, '../../../../tests/fixtures/gguf/tiny');
const MODELS = modelCache;
const SMOL = join(MODELS, realModels.smollm2.file);

let home: string;
let out: string;
beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-merged-gguf-home-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-merged-gguf-out-'));
});
afterAll(() => {
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

function llamaCppOf(result: ExportResult) {
  const cpp = result.parity.llamaCpp!;
  expect(cpp).toBeDefined();
  if ('skipped' in cpp) throw new Error(`llama.cpp did not run: ${cpp.skipped}`);
  return cpp;
}

/** Everything but the keys the export rewrites. */
function sameMetadata(a: Record<string, unknown>, b: Record<string, unknown>): void {
  const rest = (m: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(m).filter(([k]) => !['general.name', 'general.file_type', 'general.quantization_version'].includes(k)));
  expect(rest(a)).toEqual(rest(b));
}

describe('merged GGUF on the tiny fixtures', () => {
  const cases = [
    { arch: 'qwen2', method: 'lora', options: { rank: 4, alpha: 8, targets: 'all-linear' } },
    { arch: 'gpt2', method: 'lora', options: { rank: 4, alpha: 8, targets: 'all-linear' } },
    { arch: 'gptneox', method: 'lora', options: { rank: 4, alpha: 8 } },
    { arch: 'qwen3', method: 'full', options: {} },
  ] as const;
  for (const { arch, method, options } of cases) {
    for (const quant of ['f16', 'q8_0'] as const) {
      it.skipIf(!existsSync(join(TINY, `${arch}.gguf`)))(
        `${arch} ${method} → model.gguf (${quant}): reloads exactly, llama.cpp agrees`,
        async () => {
          const base = join(TINY, `${arch}.gguf`);
          const adapter = await makeRandomAdapter(home, base, method, options);
          const outDir = join(out, `${arch}-${method}-${quant}`);
          const result = await exportAdapter({ home, id: adapter.id, format: 'gguf', quant, outDir });
          expect(result.files).toEqual([EXPORT_MARKER_FILE, 'Modelfile', 'README.txt', 'model.gguf', 'parity.json'].sort());
          // Our loader reads back exactly the rounded weights written.
          expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4);
          const cpp = llamaCppOf(result);
          console.log(`merged gguf ${arch} ${method} ${quant}: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`);
          expect(cpp.ok).toBe(true);
          expect(cpp.top1Agreement).toBeGreaterThanOrEqual(0.9);

          const [file, baseFile] = [await readGgufFile(join(outDir, 'model.gguf')), await readGgufFile(base)];
          expect(file.metadata['general.file_type']).toBe(quant === 'f16' ? 1 : 7);
          expect(file.metadata['general.quantization_version']).toBe(2);
          sameMetadata(file.metadata, baseFile.metadata);
          // The converter's table: same names and shapes as the base; the types of its own --outtype q8_0 file.
          expect(file.tensors.map((t) => [t.name, t.shape])).toEqual(baseFile.tensors.map((t) => [t.name, t.shape]));
          if (quant === 'q8_0') {
            const converter = await readGgufFile(join(TINY, `${arch}.Q8_0.gguf`));
            expect(file.tensors.map((t) => t.type)).toEqual(converter.tensors.map((t) => t.type));
          } else expect(new Set(file.tensors.map((t) => t.type))).toEqual(new Set(['F16', 'F32']));

          const modelfile = readFileSync(join(outDir, 'Modelfile'), 'utf8');
          expect(modelfile).toContain('\nFROM ./model.gguf\n');
          expect(modelfile).not.toContain('ADAPTER');
          expect(result.ollamaCommand).toBe(`ollama create prefixlab-${adapter.id.toLowerCase()} -f ${join(outDir, 'Modelfile')}`);
        },
        120_000,
      );
    }
  }
});

describe('merged GGUF refusals', () => {
  // A Hugging Face folder base is no longer refused: its merged model.gguf is checked in hf-base-export.test.ts.
  it.skipIf(!existsSync(join(TINY, 'qwen2.gguf')))(
    'PT+ cannot be merged; --quant f32 is not a merged GGUF type',
    async () => {
      const ptplus = await makeRandomAdapter(home, join(TINY, 'qwen2.gguf'), 'ptplus', {});
      await expect(exportAdapter({ home, id: ptplus.id, format: 'gguf', outDir: join(out, 'ptplus') })).rejects.toThrow(/^ptplus adapters export as ptplus, not gguf/);
      const lora = await makeRandomAdapter(home, join(TINY, 'qwen2.gguf'), 'lora', { rank: 2 });
      await expect(exportAdapter({ home, id: lora.id, format: 'gguf', quant: 'f32', outDir: join(out, 'f32') })).rejects.toThrow(
        /--quant f32 does not apply here .*gguf takes f16 or q8_0/,
      );
    },
    60_000,
  );
});

describe('merged GGUF metadata', () => {
  it('drops what no longer holds, sets the file type and names the export', () => {
    const meta = mergedMetadata(
      [
        { key: 'general.architecture', type: 'string', value: 'llama' },
        { key: 'general.name', type: 'string', value: 'Base' },
        { key: 'general.file_type', type: 'u32', value: 3 },
        { key: 'general.alignment', type: 'u32', value: 64 },
        { key: 'quantize.imatrix.file', type: 'string', value: 'x.dat' },
        { key: 'split.count', type: 'u16', value: 2 },
        { key: 'tokenizer.ggml.tokens', type: 'string[]', value: ['a', 'b'] },
      ],
      'q8_0',
      'PrefixLab lora x merged (q8_0)',
    );
    expect(meta).toEqual([
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'general.name', type: 'string', value: 'PrefixLab lora x merged (q8_0)' },
      { key: 'tokenizer.ggml.tokens', type: 'string[]', value: ['a', 'b'] },
      { key: 'general.file_type', type: 'u32', value: 7 },
      { key: 'general.quantization_version', type: 'u32', value: 2 },
    ]);
  });
});

describe('merged GGUF on SmolLM2-135M-Instruct (Q4_1 base)', () => {
  for (const quant of ['f16', 'q8_0'] as const) {
    it.skipIf(!existsSync(SMOL))(
      `LoRA merged as ${quant}: llama.cpp loads it and agrees${existsSync(SMOL) ? '' : ` (skipped: ${SMOL} not cached)`}`,
      async () => {
        const adapter = await makeRandomAdapter(home, SMOL, 'lora', { rank: 4, alpha: 8 }, 11);
        const outDir = join(out, `smol-${quant}`);
        const result = await exportAdapter({ home, id: adapter.id, format: 'gguf', quant, outDir });
        expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4);
        const cpp = llamaCppOf(result);
        console.log(`merged gguf SmolLM2 lora ${quant}: llama.cpp top-1 ${cpp.top1Agreement} of ${cpp.positions}, max |Δ log p| ${cpp.maxAbsLogProbDiff.toExponential(2)}`);
        expect(cpp.ok).toBe(true);
        const file = await readGgufFile(join(outDir, 'model.gguf'));
        expect(file.metadata['tokenizer.ggml.model']).toBe('gpt2');
        expect(typeof file.metadata['tokenizer.chat_template']).toBe('string');
        expect(file.metadata['general.file_type']).toBe(quant === 'f16' ? 1 : 7);
      },
      600_000,
    );
  }
});
