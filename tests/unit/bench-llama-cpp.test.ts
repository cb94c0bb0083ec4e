// `npm run bench -- generate` on the real GGUF models compares with llama.cpp: the prompt it builds, the row
// fields it adds, the table docs/performance.md gets, and the llama.cpp runner itself on a tiny GGUF fixture.
// No timing is asserted: only that the figures are there and the ids are the model's.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PROMPT_TEXT, textPrompt, withLlamaCpp, type GenerateRow } from '../../bench/generate-bench';
import { greedyAgreement, llamaCppReference, type LlamaCppResult } from '../../bench/llama-cpp-reference';
import { renderMarkdown } from '../../bench/markdown';
import { loadTokenizer } from '../../src/main/engine/io/load-model';
import type { TextTokenizer } from '../../src/main/engine/io/tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-bench-llama-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MIB = 2 ** 20;
const ourRow: GenerateRow = {
  model: 'smollm2-135m',
  backend: 'wasm',
  promptTokens: 32,
  newTokens: 32,
  promptTokensPerSecond: 150,
  generatedTokensPerSecond: 20,
  peakTensorBytes: 600 * MIB,
  peakRssBytes: 900 * MIB,
};
const llama: LlamaCppResult = {
  name: 'llama.cpp',
  version: 'node-llama-cpp 3.21.1, llama.cpp b0000',
  threads: 1,
  promptTokensPerSecond: 400,
  tokensPerSecond: 80,
  peakRssBytes: 200 * MIB,
  ids: Array.from({ length: 33 }, (_, i) => 100 + i),
};

describe('llama.cpp rows of the generate benchmark', () => {
  it('counts the agreeing leading greedy ids and where they first differ', () => {
    expect(greedyAgreement([1, 2, 3, 4], [1, 2, 9, 4])).toEqual({ compared: 4, matching: 3, firstMismatch: 2 });
    expect(greedyAgreement([1, 2, 3], [1, 2, 3, 4, 5])).toEqual({ compared: 3, matching: 3, firstMismatch: null });
    const long = Array.from({ length: 40 }, (_, i) => i);
    expect(
      greedyAgreement(
        long,
        long.map((x) => (x === 20 ? -1 : x)),
      ),
    ).toEqual({ compared: 16, matching: 16, firstMismatch: null });
  });

  it('builds the prompt from the special ids before a text and the text ids, repeated to the length asked', () => {
    const tokenizer = (bos: number[]) =>
      ({
        encode: (text: string, opts?: { addSpecialTokens?: boolean }) => {
          expect(text).toBe(PROMPT_TEXT);
          return [...(opts?.addSpecialTokens === false ? [] : bos), 10, 11, 12];
        },
      }) as unknown as TextTokenizer;
    expect(textPrompt(tokenizer([2]), 8)).toEqual({ ids: [2, 10, 11, 12, 10, 11, 12, 10], textIds: [10, 11, 12] });
    expect(textPrompt(tokenizer([]), 4).ids).toEqual([10, 11, 12, 10]);
  });

  it('adds llama.cpp as the reference with both sides’ first 16 ids and their agreement', () => {
    const ours = llama.ids.map((id, i) => (i === 5 || i === 20 ? 7 : id));
    const row = withLlamaCpp(ourRow, ours, llama);
    expect(row.reference).toMatchObject({ name: 'llama.cpp', tokensPerSecond: 80, promptTokensPerSecond: 400, peakRssBytes: 200 * MIB, threads: 1 });
    expect((row.reference as LlamaCppResult).ids).toEqual(llama.ids.slice(0, 16));
    expect(row.ids).toEqual(ours.slice(0, 16));
    expect(row.greedyAgreement).toEqual({ compared: 16, matching: 15, firstMismatch: 5 });
    expect(row.peakRssBytes).toBe(900 * MIB);
  });

  it('renders llama.cpp rows in their own table, after the PyTorch ones', () => {
    const file = join(dir, 'generate.json');
    const torchRow = { ...ourRow, model: 'tiny-4x256', reference: { name: 'torch 1.13.1 generate', tokensPerSecond: 40 } };
    writeFileSync(file, JSON.stringify({ threads: 1, rows: [torchRow, withLlamaCpp(ourRow, llama.ids, llama)] }));
    // The file's comment line heads the first table.
    const [torchTable, llamaTable] = renderMarkdown([file]).split('\n\n') as [string, string];
    expect(torchTable).toMatch(/^<!-- .*, 1 thread\(s\) -->\n/);
    expect(torchTable).toContain('| tiny-4x256 | wasm | 32 | 32 | 150 | 20.0 | 40.0 | 0.50 | 600.0 |');
    expect(torchTable).not.toContain('smollm2-135m');
    expect(llamaTable).toContain('| llama.cpp prefill tok/s | llama.cpp generated tok/s | llama.cpp peak RSS MiB | × llama.cpp (generated) | first greedy ids agreeing |');
    expect(llamaTable).toContain('| smollm2-135m | wasm | 32 | 32 | 150 | 20.0 | 900.0 | 400 | 80.0 | 200.0 | 0.25 | 16 / 16 |');
  });
});

// A tiny float32 GGUF that llama.cpp's prebuilt CPU binary loads (tests/fixtures/gguf/make_tiny_ggufs.py).
const fixture = resolve(import.meta.dirname, '../fixtures/gguf/tiny/qwen2.gguf');
let llamaCppLoads = true;
try {
  await import('node-llama-cpp');
} catch (error) {
  llamaCppLoads = false;
  console.warn(`skipping the llama.cpp runner test: node-llama-cpp does not load here (${String(error).split('\n')[0]})`);
}
if (!existsSync(fixture)) console.warn(`skipping the llama.cpp runner test: ${fixture} is missing`);

describe.runIf(llamaCppLoads && existsSync(fixture))('the llama.cpp runner (child process) on a tiny GGUF', () => {
  it('returns newTokens + 1 greedy ids in the vocabulary, both speeds, its own peak RSS and the tokenizer check', async () => {
    const result = llamaCppReference({ modelPath: fixture, promptIds: [1, 5, 9, 3, 17], newTokens: 6, threads: 1, promptText: 'Hello world', textIds: [0] }, 120_000);
    if ('error' in result) throw new Error(result.error);
    expect(result.name).toBe('llama.cpp');
    expect(result.version).toMatch(/^node-llama-cpp \d+\.\d+\.\d+, llama\.cpp /);
    expect(result.threads).toBe(1);
    expect(result.ids).toHaveLength(7);
    const { vocabSize } = (await loadTokenizer(fixture)).config;
    for (const id of result.ids) expect(Number.isInteger(id) && id >= 0 && id < vocabSize).toBe(true);
    expect(result.promptTokensPerSecond).toBeGreaterThan(0);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(result.peakRssBytes).toBeGreaterThan(10 * MIB);
    expect(result.sameTokenization).toBe(false); // [0] is not how any tokenizer splits 'Hello world'
    // Greedy is deterministic: the same request gives the same ids.
    const again = llamaCppReference({ modelPath: fixture, promptIds: [1, 5, 9, 3, 17], newTokens: 6, threads: 1 }, 120_000);
    if ('error' in again) throw new Error(again.error);
    expect(again.ids).toEqual(result.ids);
    expect(again.sameTokenization).toBeUndefined();
  }, 240_000);

  it('says in one line which model it could not run', () => {
    const missing = join(dir, 'no-such-model.gguf');
    const result = llamaCppReference({ modelPath: missing, promptIds: [1, 2], newTokens: 2, threads: 1 }, 120_000);
    expect('error' in result && result.error).toMatch(new RegExp(`^llama\\.cpp reference failed on ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(('error' in result && result.error.split('\n').length) || 0).toBe(1);
  }, 120_000);
});

describe('a real model that is not cached', () => {
  it('is skipped with one line naming the file and how to fetch it', async () => {
    const empty = mkdtempSync(join(dir, 'cache-'));
    vi.stubEnv('PREFIXLAB_MODEL_CACHE', empty);
    vi.resetModules(); // shapes.ts reads the cache folder when it is imported
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      const { benchGenerate } = await import('../../bench/generate-bench');
      const rows = await benchGenerate({ backends: ['cpu'], shapes: ['smollm2-135m', 'no-such-shape'], promptTokens: 4, newTokens: 2, reference: true, threads: 1 });
      expect(rows).toEqual([]);
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
    expect(lines).toContain(`  unknown shape(s): no-such-shape (known: ${(await import('../../bench/shapes')).SHAPES.map((s) => s.name).join(', ')})`);
    expect(lines).toContain(
      `  skipping smollm2-135m: ${join(empty, 'SmolLM2-135M-Instruct.Q4_1.gguf')} is not there (fetch it with python3 scripts/models/fetch-models.py, or set PREFIXLAB_MODEL_CACHE)`,
    );
  }, 60_000);
});
