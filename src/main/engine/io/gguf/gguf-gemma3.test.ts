// GGUF `gemma3` through our loader.
// 1. A small GGUF written here from the tiny `gemma3` HF fixture, the way llama.cpp's converter writes Gemma 3
//    (norm weights + 1, gemma3.* metadata, no per-layer pattern or query scale in the file): our GGUF-loaded model
//    must equal the HF-loaded one under llama.cpp's conventions (5 sliding + 1 global layers, 1/√head_size).
// 2. Gemma-3-270M (Q4_K_M, fetched by scripts/models/fetch-models.py) against transformers 4.57's GGUF loader
//    (tests/fixtures/gguf/make_gguf_references.py --model gemma3): last-position logits within 2e-3 over the whole
//    vocabulary for a short prompt and one longer than the 512-token sliding window, and 16 greedy ids equal.
//    Skipped, with a message, where the model cache is absent.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../../../cli/cli-harness';
import { generateText, unloadModels } from '../../../services/model-service';
import { initBackend } from '../../backend';
import { Gemma3Model, type Gemma3Config } from '../../models/gemma3';
import { fixturesDir, modelCache, realModels } from '../../test-paths';
import { maxLogitDifference, readTransformersReference } from './testing/transformers-reference';
import { loadModel } from '../load-model';
import { loadGguf } from './gguf-model';
import { writeTinyGguf, type TinyTensor, type TinyValue } from './tiny-gguf-writer';

const F32 = 0;
/**
 * The first logits call loads and dequantizes the 270M model on wasm: ~30 s alone, 135 s measured on two cores shared
 * with three other busy processes (past the 120 s default), so the real-model tests get more room.
 */
const REAL_MODEL_TIMEOUT_MS = 300_000;

/** The HF fixture's weights as llama.cpp's converter writes them (gguf-py MODEL_TENSORS[GEMMA3] names, norms + 1). */
function ggufTensors(weights: Map<string, tf.Tensor>): TinyTensor[] {
  const names: [RegExp, string][] = [
    [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
    [/^model\.norm\.weight$/, 'output_norm.weight'],
    [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
    [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'],
    [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'],
    [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'],
    [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
    [/^model\.layers\.(\d+)\.self_attn\.q_norm\.weight$/, 'blk.$1.attn_q_norm.weight'],
    [/^model\.layers\.(\d+)\.self_attn\.k_norm\.weight$/, 'blk.$1.attn_k_norm.weight'],
    [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.post_attention_norm.weight'],
    [/^model\.layers\.(\d+)\.pre_feedforward_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
    [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
    [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
    [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
    [/^model\.layers\.(\d+)\.post_feedforward_layernorm\.weight$/, 'blk.$1.post_ffw_norm.weight'],
  ];
  return [...weights].map(([name, weight]) => {
    const rule = names.find(([pattern]) => pattern.test(name));
    if (!rule) throw new Error(`no GGUF name for ${name}`);
    const values = Float32Array.from(weight.dataSync());
    if (name.endsWith('norm.weight')) for (let i = 0; i < values.length; i++) values[i] += 1; // Gemma3Model.norm_shift
    return { name: name.replace(rule[0], rule[1]), shape: [...weight.shape].reverse(), typeId: F32, data: new Uint8Array(values.buffer) };
  });
}

describe('a gemma3 GGUF written from the tiny HF fixture', () => {
  const hfDir = join(fixturesDir, 'gemma3');
  let dir: string;
  beforeAll(async () => {
    await initBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-gemma3-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, hf: Gemma3Config, weights: Map<string, tf.Tensor>, extra: Record<string, TinyValue> = {}, omit: string[] = []): string {
    const metadata: Record<string, TinyValue> = {
      'general.architecture': { type: 'string', value: 'gemma3' },
      'gemma3.context_length': { type: 'u32', value: hf.maxPositions },
      'gemma3.embedding_length': { type: 'u32', value: hf.hidden },
      'gemma3.block_count': { type: 'u32', value: hf.layers },
      'gemma3.feed_forward_length': { type: 'u32', value: hf.intermediate },
      'gemma3.attention.head_count': { type: 'u32', value: hf.heads },
      'gemma3.attention.head_count_kv': { type: 'u32', value: hf.kvHeads },
      'gemma3.attention.key_length': { type: 'u32', value: hf.headDim },
      'gemma3.attention.value_length': { type: 'u32', value: hf.headDim },
      'gemma3.attention.layer_norm_rms_epsilon': { type: 'f32', value: hf.normEps },
      'gemma3.rope.freq_base': { type: 'f32', value: hf.rope.theta },
      'gemma3.attention.sliding_window': { type: 'u32', value: 3 },
      'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
      'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
      ...extra,
    };
    for (const key of omit) delete metadata[key];
    const path = join(dir, name);
    writeFileSync(path, writeTinyGguf({ version: 3, metadata, tensors: ggufTensors(weights) }));
    return path;
  }

  it("loads as the HF model under llama.cpp's conventions (norms − 1, sliding layers, window, query scale)", async () => {
    expect(existsSync(hfDir)).toBe(true);
    const hf = await loadModel(hfDir);
    const hfConfig = hf.model.config as Gemma3Config;
    const path = write('tiny.gguf', hfConfig, hf.model.weights);
    const gguf = await loadGguf(path);
    const config = gguf.model.config as Gemma3Config;
    expect(config).toMatchObject({
      architecture: 'gemma3_text',
      layers: 2,
      // Fewer than 6 layers: all sliding; the window (3) from the metadata, the query scale from head_dim 32 (the fixture says 24).
      layerTypes: ['sliding_attention', 'sliding_attention'],
      slidingWindow: 3,
      queryPreAttnScalar: 32,
      localRope: { theta: 10_000 },
      rope: { theta: 1_000_000, scaling: null },
      tiedEmbeddings: true,
      finalLogitSoftcap: null,
      parameters: hfConfig.parameters,
    });
    // The same weights (HF values, norms not shifted) in our Gemma3Model with the config llama.cpp's conventions give.
    const sameConfig: Gemma3Config = { ...hfConfig, layerTypes: config.layerTypes, slidingWindow: 3, queryPreAttnScalar: 32 };
    const expected = new Gemma3Model(sameConfig, new Map([...hf.model.weights].map(([name, w]) => [name, w.clone()])));
    const ids = tf.tensor2d([[1, 40, 77, 5, 200, 13, 9, 301]], undefined, 'int32');
    const diff = tf.tidy(() => gguf.model.forward(ids).sub(expected.forward(ids)).abs().max().dataSync()[0]);
    expect(diff).toBeLessThan(1e-5);
    // And the window matters: the HF fixture's own config (one full layer, window 512) differs.
    const differs = tf.tidy(() => gguf.model.forward(ids).sub(hf.model.forward(ids)).abs().max().dataSync()[0]);
    expect(differs).toBeGreaterThan(1e-3);
    ids.dispose();
    for (const m of [gguf.model, expected, hf.model]) m.dispose();
  });

  it('reads linear rope scaling (global layers only) and final logit soft-capping; no sliding_window means all layers global', async () => {
    const hf = await loadModel(hfDir);
    const hfConfig = hf.model.config as Gemma3Config;
    const scaled = await loadGguf(
      write('scaled.gguf', hfConfig, hf.model.weights, {
        'gemma3.rope.scaling.type': { type: 'string', value: 'linear' },
        'gemma3.rope.scaling.factor': { type: 'f32', value: 8 },
        'gemma3.final_logit_softcapping': { type: 'f32', value: 30 },
      }),
    );
    expect(scaled.model.config).toMatchObject({ rope: { scaling: { type: 'linear', factor: 8 } }, localRope: { scaling: null }, finalLogitSoftcap: 30 });
    scaled.model.dispose();
    const global = await loadGguf(write('global.gguf', hfConfig, hf.model.weights, {}, ['gemma3.attention.sliding_window']));
    expect(global.model.config).toMatchObject({ layerTypes: ['full_attention', 'full_attention'], slidingWindow: null });
    global.model.dispose();
    hf.model.dispose();
  });

  it('refuses rope scaling it does not map, naming the key', async () => {
    const hf = await loadModel(hfDir);
    const path = write('yarn.gguf', hf.model.config as Gemma3Config, hf.model.weights, { 'gemma3.rope.scaling.type': { type: 'string', value: 'yarn' } });
    hf.model.dispose();
    await expect(loadGguf(path)).rejects.toMatchObject({ message: expect.stringContaining('"yarn" is not supported for gemma3'), field: 'gemma3.rope.scaling.type' });
  });
});

// ---- the real model ----

const { reference, logitsBytes } = readTransformersReference('gemma3_references.json');
const CACHE = modelCache;
const modelPath = join(CACHE, reference.model);
const SIZE = realModels.gemma3.size; // the pinned file (scripts/models/fetch-models.py checks its sha256)
const present = existsSync(modelPath) && statSync(modelPath).size === SIZE;
if (!present) console.warn(`skipping Gemma-3-270M GGUF logits checks: ${reference.model} is not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

describe.skipIf(!present)(`GGUF ${reference.model} against transformers' GGUF loader`, () => {
  afterAll(() => unloadModels());

  it('has its committed reference intact', () => {
    expect(createHash('sha256').update(logitsBytes).digest('hex')).toBe(reference.logitsSha256);
    expect(logitsBytes.length).toBe(reference.sequences.length * reference.vocab * 4);
  });

  it('model inspect FILE.gguf --json gives the Gemma 3 card', async () => {
    const { code, stdout, stderr } = await cli(['model', 'inspect', modelPath, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      format: 'gguf',
      architecture: 'gemma3_text',
      parameters: 268_098_176, // Hugging Face's count for google/gemma-3-270m
      layers: 18,
      hidden: 640,
      heads: 4,
      kvHeads: 1,
      headDim: 256,
      vocab: 262_144,
      tiedEmbeddings: true,
      context: 32_768,
      quantization: { F32: 109, Q5_0: 81, Q4_K: 27, Q8_0: 10, Q6_K: 9 },
    });
  });

  for (const [index, sequence] of reference.sequences.entries()) {
    it(
      `logits --model FILE.gguf: last-position logits of sequence ${index} (${sequence.ids.length} ids) within ${reference.tolerance}`,
      async () => {
        const { code, stdout, stderr } = await cli(['logits', '--model', modelPath, '--ids', sequence.ids.join(','), '--json']);
        expect(stderr).toBe('');
        expect(code).toBe(0);
        const ours = (JSON.parse(stdout) as { logits: number[] }).logits;
        expect(ours.length).toBe(reference.vocab);
        expect(maxLogitDifference(ours, reference, logitsBytes, sequence)).toBeLessThanOrEqual(reference.tolerance);
      },
      REAL_MODEL_TIMEOUT_MS,
    );
  }

  const greedy = reference.sequences.find((s) => s.greedy);
  it(
    `greedy decoding (KV cache) gives transformers' ${greedy?.greedy?.length} ids`,
    async () => {
      const result = await generateText({ model: modelPath, promptIds: greedy!.ids, maxNewTokens: greedy!.greedy!.length, greedy: true });
      expect(result.ids).toEqual(greedy!.greedy);
    },
    REAL_MODEL_TIMEOUT_MS,
  );
});
