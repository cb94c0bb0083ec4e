// The HF folder → GGUF writer (hf-base-gguf.ts, hf-gguf-metadata.ts) against the Python port of llama.cpp's
// converter (tests/fixtures/gguf/make_tiny_ggufs.py): for every tiny HF fixture it converts, our F32 file has the
// same metadata (keys, types, values) and the same tensor bytes as the committed tests/fixtures/gguf/tiny/<arch>.gguf,
// except where it must differ (said at the comparison). Then llama.cpp itself (node-llama-cpp 3.21.1) loads our
// file and its next-token log-probabilities agree with our engine's on the HF folder.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { GgufTensorReader } from '../../engine/io/gguf/read-tensor';
import { fixturesDir } from '../../engine/test-paths';
import { loadBaseModel, logitsOf } from '../engine-session';
import { GGUF_CHECK_THRESHOLDS, llamaCppCheck } from '../llama-cpp-check';
import { parityInputs } from '../parity';
import { writeHfGguf } from './hf-base-gguf';
import { hfGgufMetadata } from './hf-gguf-metadata';
import { readTypedMetadata } from './merged-gguf';
import type { GgufMetadataEntry } from './gguf-writer';

const TINY = resolve(__dirname, '../../../../tests/fixtures/gguf/tiny');
/**
 * make_tiny_ggufs.py's FIXTURES: GGUF architecture → HF fixture folder. `config`: keys changed in a copy of the
 * folder, none of which the GGUF holds. gemma3: llama.cpp always scales queries by 1/√head_dim (32), the
 * fixture's query_pre_attn_scalar is 24 (the export refuses that folder: hf-base-export.test.ts), so llama.cpp is
 * checked on a copy with 32; its GGUF is byte for byte the fixture's.
 */
const CASES: { arch: string; folder: string; config?: Record<string, unknown> }[] = [
  { arch: 'qwen2', folder: 'qwen2' },
  { arch: 'qwen3', folder: 'qwen3' },
  { arch: 'gpt2', folder: 'gpt2' },
  { arch: 'gptneox', folder: 'gpt-neox' },
  { arch: 'phi3', folder: 'phi3-longrope' },
  { arch: 'gemma3', folder: 'gemma3', config: { query_pre_attn_scalar: 32 } },
];

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-hf-gguf-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function byKey(entries: GgufMetadataEntry[]): Map<string, GgufMetadataEntry> {
  return new Map(entries.map((e) => [e.key, e]));
}

/** The fixture folder, or a copy of it with `config`'s keys changed in config.json. */
function folderOf(folder: string, config: Record<string, unknown> | undefined): string {
  if (!config) return join(fixturesDir, folder);
  const copy = join(dir, `${folder}-copy`);
  cpSync(join(fixturesDir, folder), copy, { recursive: true });
  const file = join(copy, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...config }, null, 2));
  return copy;
}

describe.each(CASES)('HF folder $folder → GGUF, as make_tiny_ggufs.py writes its $arch file', ({ arch, folder, config }) => {
  const python = join(TINY, `${arch}.gguf`);
  it.skipIf(!existsSync(python))(
    'same metadata and tensors; llama.cpp on our file agrees with our engine',
    async () => {
      const base = await loadBaseModel(folderOf(folder, config));
      try {
        const ours = join(dir, `${arch}.gguf`);
        await writeHfGguf({
          path: ours,
          folder: base.path,
          config: base.model.config,
          weight: (name) => base.model.weights.get(name)?.dataSync() as Float32Array | undefined,
          type: 'f32',
          name: 'prefixlab tiny fixture',
        });
        const mine = byKey(await readTypedMetadata(ours));
        const theirs = byKey(await readTypedMetadata(python));
        expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
        for (const [key, expected] of theirs) {
          const got = mine.get(key)!;
          expect(got.type, key).toBe(expected.type);
          if (key === 'tokenizer.ggml.scores') {
            // Must differ: the Python port scores a SentencePiece-like vocabulary -id; we score a token -rank of the
            // BPE merge that makes it (hf-gguf-metadata.ts: stories260K's merges are not in id order). On this
            // fixture the merges are in id order, so both give llama.cpp the same merge priority.
            const made = mergeResults(join(fixturesDir, folder));
            const ranked = (scores: number[]) =>
              scores
                .map((s, i) => [s, i] as const)
                .filter(([, i]) => made.has(i))
                .sort((x, y) => y[0] - x[0] || x[1] - y[1])
                .map(([, i]) => i);
            expect(made.size).toBeGreaterThan(10);
            expect(ranked(got.value as number[])).toEqual(ranked(expected.value as number[]));
            continue;
          }
          if (expected.type === 'f32') expect(got.value as number, key).toBeCloseTo(expected.value as number, 6);
          else expect(got.value, key).toEqual(expected.value);
        }

        const a = await readGgufFile(ours);
        const b = await readGgufFile(python);
        expect(a.tensors.map((t) => t.name).sort()).toEqual(b.tensors.map((t) => t.name).sort());
        const ra = GgufTensorReader.open(a);
        const rb = GgufTensorReader.open(b);
        try {
          for (const t of b.tensors) {
            const mineT = a.tensors.find((x) => x.name === t.name)!;
            expect([mineT.type, mineT.shape], t.name).toEqual([t.type, t.shape]);
            expect(Buffer.from(ra.readBytes(t.name)).equals(Buffer.from(rb.readBytes(t.name))), t.name).toBe(true);
          }
        } finally {
          ra.close();
          rb.close();
        }

        // llama.cpp on our file: as close as on the Python-written file (gguf-architectures.test.ts).
        const inputs = parityInputs(base.model.config, 3);
        const check = await llamaCppCheck({
          model: ours,
          inputs,
          ourLogits: await logitsOf(base, inputs),
          vocabSize: base.model.config.vocabSize,
          thresholds: GGUF_CHECK_THRESHOLDS.f32,
        });
        console.log(`HF ${folder} → GGUF: llama.cpp top-1 ${check.top1Agreement} of ${check.positions}, max |Δ log p| ${check.maxAbsLogProbDiff.toExponential(2)}`);
        expect(check.top1Agreement).toBe(1);
        // The GELU models (gemma3's is GELU-tanh) 1e-2: ggml's CPU GELU reads an F16 table (gguf-architectures.test.ts).
        expect(check.maxAbsLogProbDiff).toBeLessThan(arch === 'gpt2' || arch === 'gptneox' || arch === 'gemma3' ? 1e-2 : 1e-3);
      } finally {
        base.dispose();
      }
    },
    120_000,
  );
});

/** Ids of the tokens some BPE merge of the folder's tokenizer.json makes. */
function mergeResults(folder: string): Set<number> {
  const t = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: (string | string[])[] } };
  return new Set(t.model.merges.map((m) => t.model.vocab[(typeof m === 'string' ? m.split(' ') : m).join('')]).filter((id) => id !== undefined));
}

// Our GGUF import reads the gemma3 file as llama.cpp runs it: layer pattern (attention.sliding_window_pattern 2)
// and local RoPE base (rope.freq_base_swa) from the file, not llama.cpp's defaults, else layer 1 would be a
// sliding layer with RoPE base 10000 where the HF model has a global one with 1e6.
it.skipIf(!existsSync(join(TINY, 'gemma3.gguf')))(
  'our loader on gemma3.gguf equals our engine on the HF folder (query scale 32)',
  async () => {
    const hf = await loadBaseModel(folderOf('gemma3', { query_pre_attn_scalar: 32 }));
    const gguf = await loadBaseModel(join(TINY, 'gemma3.gguf'));
    try {
      const inputs = parityInputs(hf.model.config, 3);
      const [a, b] = [await logitsOf(hf, inputs), await logitsOf(gguf, inputs)];
      let diff = 0;
      a.forEach((row, i) => row.forEach((v, k) => (diff = Math.max(diff, Math.abs(v - b[i][k])))));
      expect(diff).toBeLessThan(1e-4);
    } finally {
      hf.dispose();
      gguf.dispose();
    }
  },
  60_000,
);

describe('gemma3 metadata from config.json (hfGgufMetadata)', () => {
  function metadataOf(config: Record<string, unknown>): Map<string, GgufMetadataEntry> {
    return byKey(hfGgufMetadata(folderOf('gemma3', { query_pre_attn_scalar: 32, ...config }), { name: 'x', fileType: 0 }).metadata);
  }
  it('linear rope scaling as the converter writes it; every layer global: no sliding window; the default pattern 6: no pattern key', () => {
    const linear = metadataOf({ rope_scaling: { rope_type: 'linear', factor: 8 } });
    expect(linear.get('gemma3.rope.scaling.type')).toEqual({ key: 'gemma3.rope.scaling.type', type: 'string', value: 'linear' });
    expect(linear.get('gemma3.rope.scaling.factor')?.value).toBe(8);
    const global = metadataOf({ layer_types: ['full_attention', 'full_attention'] });
    expect(global.has('gemma3.attention.sliding_window')).toBe(false);
    const six = metadataOf({ layer_types: ['sliding_attention', 'sliding_attention'] });
    expect(six.get('gemma3.attention.sliding_window')?.value).toBe(512);
    expect(six.has('gemma3.attention.sliding_window_pattern')).toBe(false);
  });
  it('what llama.cpp cannot run as the HF model: one line naming config.json and the field', () => {
    expect(() => metadataOf({ rope_scaling: { rope_type: 'yarn', factor: 8 } })).toThrow(/^config\.json rope_scaling "yarn" is not linear/);
    expect(() => metadataOf({ layer_types: ['full_attention', 'sliding_attention'] })).toThrow(/^config\.json's layer_types are not every n-th layer global/);
    expect(() => metadataOf({ query_pre_attn_scalar: 24 })).toThrow(/^config\.json's query_pre_attn_scalar 24 is not 32/);
  });
});
