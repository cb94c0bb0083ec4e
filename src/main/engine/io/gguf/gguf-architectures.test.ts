// GGUF files of every non-llama architecture we map (qwen2, qwen3, phi3, gpt2, gptneox), checked twice against
// transformers' logits for the tiny HF fixtures they were converted from (tests/fixtures/gguf/make_tiny_ggufs.py
// writes them as llama.cpp's convert_hf_to_gguf.py would, F32 and Q8_0):
//  (1) llama.cpp itself (node-llama-cpp 3.21.1, its prebuilt CPU binary) loads each file and its next-token
//      log-probabilities match the reference: so the file is what llama.cpp reads as that model;
//  (2) our loader reads the same file into the HF weights bit for bit (F32) and its logits and greedy ids match.
// Then the bad inputs: an unsupported architecture, a missing tensor, a mis-shaped one — each one line.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLine } from './testing/one-line-error';
import { generate } from '../../generate';
import { fixturesDir, repoRoot } from '../../test-paths';
import { loadModel, readModelHeader, type LoadedModel } from '../load-model';
import { SUPPORTED_GGUF_ARCHITECTURES } from './gguf-model';
import type { Token } from 'node-llama-cpp';

interface Reference {
  num_parameters: number;
  input_ids: number[][];
  logits: { positions: number[]; values: number[][][] };
  position_stats: { argmax: number[][]; logsumexp: number[][] };
  greedy: { prompt_ids: number[]; ids: number[]; max_new_tokens: number };
}

const TINY = join(repoRoot, 'tests/fixtures/gguf/tiny');

/**
 * Each architecture, its HF fixture and the tolerances (max abs difference of log-probabilities for llama.cpp,
 * of logits for ours). Our F32 load is the HF fixtures' own 1e-4. llama.cpp's F32: 1e-4 where the graph is all
 * matmuls and RMSNorm; gpt2/gptneox 6e-3, because ggml's CPU GELU reads an F16 lookup table (GGML_GELU_FP16,
 * ggml-cpu/vec.h; and is the tanh form where Pythia's is erf): measured 2.0e-3 / 2.7e-3. Q8_0 (measured, with
 * room): ours differs from the F32 reference by the weights' rounding only (measured 0.11–0.18, phi3's longrope 0.39); llama.cpp also
 * rounds the activations to Q8_0 for each product (measured 0.13–0.24, phi3 0.48).
 */
const ARCHS = [
  { arch: 'qwen2', fixture: 'qwen2', cppF32: 1e-4 },
  { arch: 'qwen3', fixture: 'qwen3', cppF32: 1e-4 },
  { arch: 'phi3', fixture: 'phi3-longrope', cppF32: 1e-4 },
  { arch: 'gpt2', fixture: 'gpt2', cppF32: 6e-3 },
  { arch: 'gptneox', fixture: 'gpt-neox', cppF32: 6e-3 },
] as const;
const OURS_F32 = 1e-4;
const OURS_Q8_0 = 0.5;
const CPP_Q8_0 = 0.6;

const present = ARCHS.filter(({ arch, fixture }) => {
  const ok = existsSync(join(TINY, `${arch}.gguf`)) && existsSync(join(fixturesDir, fixture, 'reference.json'));
  if (!ok)
    console.warn(
      `skipping GGUF ${arch} checks: no tests/fixtures/gguf/tiny/${arch}.gguf (.venv/bin/python tests/fixtures/gguf/make_tiny_ggufs.py writes it from tests/fixtures/models/${fixture})`,
    );
  return ok;
});
const files = present.flatMap((a) => (['F32', 'Q8_0'] as const).map((type) => ({ ...a, type, path: join(TINY, type === 'F32' ? `${a.arch}.gguf` : `${a.arch}.Q8_0.gguf`) })));

function reference(fixture: string): Reference {
  return JSON.parse(readFileSync(join(fixturesDir, fixture, 'reference.json'), 'utf8')) as Reference;
}

// --- (1) llama.cpp -----------------------------------------------------------------------------------------------

type LlamaCpp = Awaited<ReturnType<typeof import('node-llama-cpp').getLlama>>;
let llamaCpp: LlamaCpp | undefined;
async function getLlamaCpp(): Promise<LlamaCpp> {
  if (!llamaCpp) {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    // The prebuilt CPU binary only: never build or download.
    llamaCpp = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: 2 });
  }
  return llamaCpp;
}

describe.each(files)('llama.cpp reads tiny/$arch ($type)', ({ arch, fixture, type, path, cppF32 }) => {
  const ref = reference(fixture);
  const tolerance = type === 'F32' ? cppF32 : CPP_Q8_0;
  let model: Awaited<ReturnType<LlamaCpp['loadModel']>>;
  let context: Awaited<ReturnType<typeof model.createContext>>;
  beforeAll(async () => {
    model = await (await getLlamaCpp()).loadModel({ modelPath: path });
    // F32 keys/values: llama.cpp's default F16 cache alone differs from float32 by ~5e-3.
    context = await model.createContext({
      contextSize: 64,
      batchSize: 64,
      sequences: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
  }, 60_000);
  afterAll(async () => {
    await context?.dispose();
    await model?.dispose();
  });

  it(`gives transformers' next-token log-probabilities (≤ ${tolerance})${type === 'F32' ? ' and argmax at every position' : ''}`, async () => {
    expect(model.fileInfo.metadata.general.architecture).toBe(arch);
    const sequence = context.getSequence();
    try {
      let worst = 0;
      for (const [s, ids] of ref.input_ids.entries()) {
        await sequence.clearHistory();
        const out = await sequence.controlledEvaluate(ids.map((id) => [id as Token, { generateNext: { probabilities: true } }] as const));
        // Sorted most probable first. Q8_0 moves logits by more than the fixtures' top-2 margins (≥ 0.03).
        const argmax = out.map((o) => [...o!.next.probabilities!.keys()][0]);
        if (type === 'F32') expect(argmax, `argmax of sequence ${s}`).toEqual(ref.position_stats.argmax[s]);
        for (const [k, position] of ref.logits.positions.entries()) {
          const probabilities = out[position]!.next.probabilities!;
          const lse = ref.position_stats.logsumexp[s][position];
          ref.logits.values[s][k].forEach((logit, id) => (worst = Math.max(worst, Math.abs(Math.log(probabilities.get(id as Token)!) - (logit - lse)))));
        }
      }
      console.log(`llama.cpp ${arch} ${type}: max |Δ log p| ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(tolerance);
    } finally {
      sequence.dispose();
    }
  }, 60_000);

  // Only the F32 file: Q8_0's logit error exceeds these random models' top-2 margins (0.03–0.06).
  if (type === 'F32')
    it('continues the greedy reference', async () => {
      const sequence = context.getSequence();
      try {
        const ids: number[] = [];
        let input = ref.greedy.prompt_ids;
        while (ids.length < ref.greedy.max_new_tokens) {
          const out = await sequence.controlledEvaluate(
            input.map((id, i) => (i === input.length - 1 ? ([id as Token, { generateNext: { token: true } }] as const) : (id as Token))),
          );
          const next = out[input.length - 1]!.next.token!;
          ids.push(next);
          input = [next];
        }
        expect(ids).toEqual(ref.greedy.ids);
      } finally {
        sequence.dispose();
      }
    }, 60_000);
});

// --- (2) our loader ----------------------------------------------------------------------------------------------

describe.each(files)('our loader reads tiny/$arch ($type)', ({ arch, fixture, type, path }) => {
  const ref = reference(fixture);
  let loaded: LoadedModel;
  beforeAll(async () => {
    loaded = await loadModel(path);
  });
  afterAll(() => loaded?.dispose());

  it(`holds every HF weight of the fixture under its HF name, ${type === 'F32' ? 'bit for bit' : 'within Q8_0 rounding'}`, async () => {
    const hf = await loadModel(join(fixturesDir, fixture));
    try {
      expect(loaded.model.config.parameters).toBe(ref.num_parameters);
      expect([...loaded.model.weights.keys()].sort()).toEqual([...hf.model.weights.keys()].sort());
      for (const [name, weight] of hf.model.weights) {
        const got = loaded.model.weights.get(name)!;
        expect(got.shape, name).toEqual(weight.shape);
        const want = weight.dataSync() as Float32Array;
        if (type === 'F32') {
          expect(got.dataSync(), name).toEqual(want);
          continue;
        }
        // Q8_0 rounds each value to a multiple of its 32-block's scale d = max|x|/127 (stored as F16): off by at
        // most d/2 plus 127 × d's F16 rounding, under 0.57·d for d = max|x| over the whole tensor. A weight
        // from the wrong rows or columns is off by about |x| itself.
        let amax = 0;
        for (const v of want) amax = Math.max(amax, Math.abs(v));
        const bound = (0.57 * amax) / 127;
        const values = got.dataSync() as Float32Array;
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(values[i] - want[i]));
        expect(worst, name).toBeLessThanOrEqual(bound);
      }
    } finally {
      hf.dispose();
    }
  });

  it(`gives transformers' logits (≤ ${type === 'F32' ? OURS_F32 : OURS_Q8_0})${type === 'F32' ? ' and greedy ids' : ''}`, async () => {
    const logits = tf.tidy(() => loaded.model.forward(tf.tensor2d(ref.input_ids, undefined, 'int32')).arraySync() as number[][][]);
    let worst = 0;
    ref.logits.values.forEach((rows, s) => rows.forEach((row, k) => row.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - logits[s][ref.logits.positions[k]][i]))))));
    console.log(`ours ${arch} ${type}: max |Δ logit| ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(type === 'F32' ? OURS_F32 : OURS_Q8_0);
    // Q8_0's rounding moves logits by more than the fixtures' top-2 margins, so only F32 must decode identically.
    if (type !== 'F32') return;
    const out = await generate(loaded.model, [ref.greedy.prompt_ids], { maxNewTokens: ref.greedy.max_new_tokens });
    expect(out.ids[0]).toEqual(ref.greedy.ids);
  });

  if (type === 'Q8_0')
    it('reports the quantization llama.cpp’s converter chose', async () => {
      const header = await readModelHeader(path);
      expect(header.format).toBe('gguf');
      expect(Object.keys(header.quantization ?? {}).sort()).toEqual(['F32', 'Q8_0']);
    });
});

// --- bad input ---------------------------------------------------------------------------------------------------

describe.skipIf(!present.some((a) => a.arch === 'gptneox'))('a broken GGUF file', () => {
  let dir: string;
  let original: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-arch-'));
    original = readFileSync(join(TINY, 'gptneox.gguf'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of tiny/gptneox.gguf with one header string replaced by another of the same length. */
  function patched(name: string, from: string, to: string, edit?: (bytes: Buffer, at: number) => void): string {
    const bytes = Buffer.from(original);
    const at = bytes.indexOf(Buffer.from(from, 'latin1'));
    expect(at).toBeGreaterThan(0);
    Buffer.from(to, 'latin1').copy(bytes, at);
    edit?.(bytes, at);
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  }

  const oneLineLoading = (path: string): Promise<string> =>
    oneLine(
      loadModel(path).then((m) => m.dispose()),
      path,
    );

  it('refuses an unsupported architecture, listing the supported ones', async () => {
    expect(SUPPORTED_GGUF_ARCHITECTURES).toEqual(expect.arrayContaining(['llama', 'qwen2', 'gpt2', 'gptneox']));
    const line = await oneLineLoading(patched('arch.gguf', 'gptneox', 'gptneoy'));
    expect(line).toContain(`architecture "gptneoy", which is not supported (supported: ${SUPPORTED_GGUF_ARCHITECTURES.join(', ')})`);
  });

  it('names a missing tensor and the weight it holds', async () => {
    const line = await oneLineLoading(patched('missing.gguf', 'blk.1.attn_qkv.weight', 'blk.1.attn_qkx.weight'));
    expect(line).toMatch(/GGUF file has no tensor blk\.1\.attn_qkv\.weight \(for gpt_neox\.layers\.1\.attention\.query_key_value\.weight, shape \[192, 64\]\)/);
  });

  it('names a mis-shaped tensor and the shape the metadata implies', async () => {
    // The tensor table entry: name, n_dims (u32), then ne0, ne1 (u64): swap them (same element count).
    const name = 'blk.0.attn_qkv.weight';
    const path = patched('shape.gguf', name, name, (bytes, at) => {
      const dims = at + name.length + 4;
      const [ne0, ne1] = [bytes.readBigUInt64LE(dims), bytes.readBigUInt64LE(dims + 8)];
      expect([ne0, ne1]).toEqual([64n, 192n]);
      bytes.writeBigUInt64LE(ne1, dims);
      bytes.writeBigUInt64LE(ne0, dims + 8);
    });
    expect(await oneLineLoading(path)).toMatch(/tensor blk\.0\.attn_qkv\.weight has shape \[192, 64\], but the metadata implies \[64, 192\]/);
  });
});
