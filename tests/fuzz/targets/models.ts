// Model files: config.json (every supported model_type, generated and mutated, absurd sizes included) through
// the real models.inspect call, then — when the config passes — a full load; tokenizer.json and
// tokenizer_config.json mutations through the tokenizer loader and encode/decode; llama2.c headers and
// tokenizer.bin files. Nothing may be allocated for a config the memory estimate refuses.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { CALLS } from '@shared/contract';
import { ApiError, type ApiErrorData } from '@shared/errors';
import { createAppContext, type AppContext } from '../../../src/main/app/context';
import { handlers } from '../../../src/main/handlers';
import { createDispatcher, type Dispatch } from '../../../src/main/rpc/dispatch';
import { loadModel, loadTokenizer } from '../../../src/main/engine/io/load-model';
import { readHfConfig } from '../../../src/main/engine/io/hf-folder';
import { checkMemory } from '../../../src/main/engine/io/model-files';
import { readLlama2cConfig } from '../../../src/main/engine/io/llama2c';
import { Llama2cTokenizer } from '../../../src/main/engine/io/llama2c-tokenizer';
import { deeplyNested, HOSTILE_VALUES, mutatedBytes, mutatedJson } from '../lib/mutate';
import { ACCEPTED, defineTarget, rejected, type CaseOutcome, type TargetContext } from '../lib/target';
import { assertSendable, CaseFailure, judgeError, unclearReason } from '../lib/verdict';

const REPO = resolve(import.meta.dirname, '../../..');
const MODELS = join(REPO, 'tests/fixtures/models');
/** Loads above this are skipped in fuzzing (the fixtures are ~0.5 MB); the memory check itself always runs. */
const LOAD_LIMIT_BYTES = 32 * 2 ** 20;

function fixtureDirs(): string[] {
  return readdirSync(MODELS)
    .filter((d) => statSync(join(MODELS, d)).isDirectory())
    .sort();
}

function readJsonFile(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** An error envelope from the dispatcher judged like a thrown error (internal = crash). */
function judgeEnvelope(error: ApiErrorData, rules: { needsFile?: boolean; needsField?: boolean } = {}): string {
  return judgeError(ApiError.from(error), rules);
}

// ---- config.json ----

/** Field values that make a config absurd: sizes that would need exabytes, or loop for ever when enumerated. */
const ABSURD: unknown[] = [0, -1, 1.5, 2 ** 31 - 1, 2 ** 40, 2 ** 53 - 1, 1e15, 1e308, '64', null];
const SIZE_FIELDS = [
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'intermediate_size',
  'vocab_size',
  'max_position_embeddings',
  'head_dim',
  'n_embd',
  'n_layer',
  'n_head',
  'n_inner',
  'n_positions',
  'rotary_pct',
  'rope_theta',
  'rms_norm_eps',
  'layer_norm_eps',
  'sliding_window',
];

interface ConfigCase {
  fixture: string;
  config: unknown;
  raw?: string;
}

function configArbitrary(seeds: { fixture: string; config: unknown }[]): fc.Arbitrary<ConfigCase> {
  const mutated = fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.nat())
    .chain(([i]) => mutatedJson([seeds[i].config], [...SIZE_FIELDS, 'model_type', 'rope_scaling', 'hidden_act']).map((config) => ({ fixture: seeds[i].fixture, config })));
  const absurd = fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(fc.tuple(fc.constantFrom(...SIZE_FIELDS), fc.constantFrom(...ABSURD)), { minLength: 1, maxLength: 3 }))
    .map(([i, edits]) => ({ fixture: seeds[i].fixture, config: { ...(seeds[i].config as object), ...Object.fromEntries(edits) } }));
  const rope = fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.oneof(
        fc.jsonValue({ maxDepth: 2 }),
        fc.record({
          rope_type: fc.constantFrom('llama3', 'linear', 'dynamic', 'yarn', 'x'),
          factor: fc.constantFrom(...HOSTILE_VALUES),
          original_max_position_embeddings: fc.constantFrom(...HOSTILE_VALUES),
          low_freq_factor: fc.double(),
          high_freq_factor: fc.double(),
        }),
      ),
    )
    .map(([i, rope_scaling]) => ({ fixture: seeds[i].fixture, config: { ...(seeds[i].config as object), rope_scaling } }));
  const raw = fc
    .tuple(
      fc.nat({ max: seeds.length - 1 }),
      fc.constantFrom(deeplyNested(50_000), deeplyNested(20_000, 'object'), '', '{', 'null', '[]', '"config"', '{"model_type":"llama"}', '\ufeff{}'),
    )
    .map(([i, text]) => ({ fixture: seeds[i].fixture, config: null, raw: text }));
  const other = fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.jsonValue({ maxDepth: 3 })).map(([i, config]) => ({ fixture: seeds[i].fixture, config }));
  return fc.oneof(
    { weight: 5, arbitrary: mutated },
    { weight: 3, arbitrary: absurd },
    { weight: 1, arbitrary: rope },
    { weight: 1, arbitrary: raw },
    { weight: 1, arbitrary: other },
  );
}

interface ModelCtx {
  app: AppContext;
  dispatch: Dispatch;
}
const modelCtx = new WeakMap<TargetContext, ModelCtx>();

/** Case folders: one per fixture model, its files copied, config.json rewritten per case. */
function prepareCaseFolders(ctx: TargetContext, files: RegExp): void {
  for (const fixture of fixtureDirs()) {
    const dir = join(ctx.tmp, fixture);
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(join(MODELS, fixture))) if (files.test(name)) copyFileSync(join(MODELS, fixture, name), join(dir, name));
  }
  const app = createAppContext({ home: join(ctx.tmp, 'home'), shell: 'headless', roots: [ctx.tmp] });
  modelCtx.set(ctx, { app, dispatch: createDispatcher(handlers, app) });
}

async function inspectAndLoad(dir: string, ctx: TargetContext): Promise<CaseOutcome> {
  const { dispatch } = modelCtx.get(ctx)!;
  const reply = await dispatch('models.inspect', { path: dir });
  assertSendable(reply, 'the models.inspect reply');
  if (!reply.ok) return rejected(judgeEnvelope(reply.error as ApiErrorData, { needsFile: true }));
  const card = (reply.result as { card: { memoryFloat32Bytes: number } }).card;
  // The estimate must refuse what a load would not survive, before anything is allocated.
  const { config, configPath } = readHfConfig(dir);
  try {
    checkMemory(config, configPath);
  } catch (err) {
    return rejected(judgeError(err, { needsFile: true }));
  }
  if (card.memoryFloat32Bytes > LOAD_LIMIT_BYTES) return ACCEPTED;
  const before = tf.memory().numTensors;
  try {
    const loaded = await loadModel(dir);
    loaded.dispose();
  } catch (err) {
    if (tf.memory().numTensors !== before) throw new CaseFailure('crash', `a failed load left ${tf.memory().numTensors - before} tensors behind`);
    return rejected(judgeError(err, { needsFile: true }));
  }
  if (tf.memory().numTensors !== before) throw new CaseFailure('crash', `load + dispose left ${tf.memory().numTensors - before} tensors behind`);
  return ACCEPTED;
}

export const modelConfigTarget = defineTarget<ConfigCase>({
  name: 'config-json',
  description: 'config.json of every model_type (mutated, absurd sizes, bad rope_scaling, deep nesting) → models.inspect, memory check, load',
  maxCaseMs: 15_000,
  setup: (ctx) => prepareCaseFolders(ctx, /\.(safetensors|json)$/),
  arbitrary: () => configArbitrary(fixtureDirs().map((fixture) => ({ fixture, config: readJsonFile(join(MODELS, fixture, 'config.json')) }))),
  describeInput: (c) => `${c.fixture}: ${c.raw !== undefined ? c.raw.slice(0, 200) : JSON.stringify(c.config)?.slice(0, 1500)}`,
  async run(c, ctx) {
    const dir = join(ctx.tmp, c.fixture);
    writeFileSync(join(dir, 'config.json'), c.raw ?? JSON.stringify(c.config) ?? 'undefined');
    return inspectAndLoad(dir, ctx);
  },
});

// ---- tokenizer.json / tokenizer_config.json ----

interface TokenizerCase {
  fixture: string;
  tokenizer?: unknown;
  tokenizerConfig?: unknown;
  texts: string[];
}

const PROBE_TEXTS = ['Hello world', '', ' ', 'Once upon a time, there was a cat.', '<s>', '</s>', '\u0000', '\ud83d\ude00 emoji', 'ünïcödé', '\ud800'];

export const tokenizerTarget = defineTarget<TokenizerCase>({
  name: 'tokenizer',
  description: 'tokenizer.json + tokenizer_config.json (mutated values, wrong types, deep nesting) → loadTokenizer, encode, decode',
  maxCaseMs: 15_000,
  setup: (ctx) => prepareCaseFolders(ctx, /\.(safetensors|json)$/),
  arbitrary: () => {
    const seeds = fixtureDirs().map((fixture) => ({
      fixture,
      tokenizer: readJsonFile(join(MODELS, fixture, 'tokenizer.json')),
      tokenizerConfig: readJsonFile(join(MODELS, fixture, 'tokenizer_config.json')),
    }));
    const idx = fc.nat({ max: seeds.length - 1 });
    const texts = fc.array(fc.oneof(fc.constantFrom(...PROBE_TEXTS), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 })), { minLength: 1, maxLength: 3 });
    return fc.oneof(
      fc.tuple(idx, texts).chain(([i, t]) =>
        mutatedJson([seeds[i].tokenizer], ['model', 'normalizer', 'pre_tokenizer', 'decoder', 'added_tokens']).map((tokenizer) => ({
          fixture: seeds[i].fixture,
          tokenizer,
          texts: t,
        })),
      ),
      fc.tuple(idx, texts).chain(([i, t]) =>
        mutatedJson([seeds[i].tokenizerConfig], ['bos_token', 'eos_token', 'chat_template', 'add_bos_token']).map((tokenizerConfig) => ({
          fixture: seeds[i].fixture,
          tokenizerConfig,
          texts: t,
        })),
      ),
      fc.tuple(idx, texts, fc.jsonValue({ maxDepth: 3 })).map(([i, t, junk]) => ({ fixture: seeds[i].fixture, tokenizer: junk, texts: t })),
    );
  },
  describeInput: (c) =>
    JSON.stringify({
      fixture: c.fixture,
      texts: c.texts,
      tokenizer: c.tokenizer === undefined ? undefined : JSON.stringify(c.tokenizer).slice(0, 600),
      tokenizerConfig: c.tokenizerConfig,
    }).slice(0, 2000),
  async run(c, ctx) {
    const dir = join(ctx.tmp, c.fixture);
    writeFileSync(join(dir, 'tokenizer.json'), c.tokenizer === undefined ? readFileSync(join(MODELS, c.fixture, 'tokenizer.json')) : (JSON.stringify(c.tokenizer) ?? ''));
    writeFileSync(
      join(dir, 'tokenizer_config.json'),
      c.tokenizerConfig === undefined ? readFileSync(join(MODELS, c.fixture, 'tokenizer_config.json')) : (JSON.stringify(c.tokenizerConfig) ?? ''),
    );
    writeFileSync(join(dir, 'config.json'), readFileSync(join(MODELS, c.fixture, 'config.json')));
    let tokenizer;
    try {
      tokenizer = (await loadTokenizer(dir)).tokenizer;
    } catch (err) {
      return rejected(judgeError(err, { needsFile: true }));
    }
    if (!tokenizer) throw new CaseFailure('crash', 'tokenizer.json exists but no tokenizer was loaded');
    for (const text of c.texts) {
      let ids: number[];
      try {
        ids = tokenizer.encode(text);
        tokenizer.decode(ids);
      } catch (err) {
        throw new CaseFailure(
          'crash',
          `a tokenizer that loaded fails on ${JSON.stringify(text)}: ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`,
        );
      }
      if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize))
        throw new CaseFailure('crash', `encode gave ids outside the vocabulary: ${ids.slice(0, 10)}`);
    }
    return ACCEPTED;
  },
});

// ---- llama2.c ----

interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seqLen: number;
}
const TINY: Llama2cHeader = { dim: 8, hiddenDim: 16, layers: 1, heads: 2, kvHeads: 2, vocab: 32, seqLen: 16 };

function llama2cBytes(h: Llama2cHeader, floats: number): Uint8Array {
  const header = Buffer.alloc(28);
  [h.dim, h.hiddenDim, h.layers, h.heads, h.kvHeads, h.vocab, h.seqLen].forEach((v, i) => header.writeInt32LE(v | 0, i * 4));
  const data = Buffer.alloc(Math.max(0, Math.floor(floats)) * 4);
  for (let i = 0; i < data.length; i += 4) data.writeFloatLE(((i / 4) % 17) / 100 - 0.08, i);
  return new Uint8Array(Buffer.concat([header, data]));
}

function llama2cFloats(h: Llama2cHeader): number {
  const headDim = h.dim / h.heads;
  const kvDim = h.kvHeads * headDim;
  const perLayer = 2 * h.dim + h.dim * h.dim * 2 + 2 * kvDim * h.dim + 3 * h.dim * h.hiddenDim;
  return Math.abs(h.vocab) * h.dim * (h.vocab < 0 ? 2 : 1) + h.layers * perLayer + h.dim + h.seqLen * headDim;
}

/** A tokenizer.bin: max_token_length, then (score, length, bytes) per token; bytes 0..255 as <0xXX> at ids 3.. */
function llama2cTokenizerBytes(pieces: string[], maxLen = 16): Uint8Array {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0].writeInt32LE(maxLen);
  pieces.forEach((p, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(-i, 0);
    const bytes = Buffer.from(p, 'latin1');
    head.writeInt32LE(bytes.length, 4);
    parts.push(head, bytes);
  });
  return new Uint8Array(Buffer.concat(parts));
}
const TINY_PIECES = ['<unk>', '<s>', '</s>', ...Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i)), ' ', ' a', 'ab'];

const headerValue = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, -32, 2 ** 20, 2 ** 20 + 1, 2 ** 22, 2 ** 31 - 1, -(2 ** 31), 0x616b3432) },
);

interface Llama2cCase {
  bytes: Uint8Array;
  tokenizer?: Uint8Array;
  text: string;
}

export const llama2cTarget = defineTarget<Llama2cCase>({
  name: 'llama2c',
  description: 'llama2.c .bin headers (hostile dims, negative vocab, versioned magic, truncation) and tokenizer.bin files → inspect, load, encode',
  maxCaseMs: 15_000,
  setup: (ctx) => {
    prepareCaseFolders(ctx, /^$/);
    mkdirSync(join(ctx.tmp, 'l2c'), { recursive: true });
  },
  arbitrary: () => {
    const tinyModel = llama2cBytes(TINY, llama2cFloats(TINY));
    const tinyTok = llama2cTokenizerBytes(TINY_PIECES);
    const header = fc.record({
      dim: headerValue,
      hiddenDim: headerValue,
      layers: headerValue,
      heads: headerValue,
      kvHeads: headerValue,
      vocab: fc.oneof(headerValue, fc.constant(-32)),
      seqLen: headerValue,
    });
    const generated = fc.tuple(header, fc.integer({ min: -40, max: 40 })).map(([h, delta]) => {
      const floats = llama2cFloats(h);
      return llama2cBytes(h, Number.isFinite(floats) && floats < 200_000 ? floats + delta : 64);
    });
    const tokenizer = fc.oneof(
      fc.constant(tinyTok),
      mutatedBytes([tinyTok], [new Uint8Array([0xff, 0xff, 0xff, 0x7f]), new Uint8Array([0, 0, 0, 0x80])]),
      fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 40 }).map((p) => llama2cTokenizerBytes(p)),
    );
    return fc.record({
      bytes: fc.oneof(
        { weight: 2, arbitrary: generated },
        { weight: 2, arbitrary: mutatedBytes([tinyModel], [new Uint8Array([0, 0, 0, 0x40]), new Uint8Array([0xff, 0xff, 0xff, 0x7f])]) },
        { weight: 1, arbitrary: fc.constant(tinyModel) },
      ),
      tokenizer: fc.option(tokenizer, { freq: 4, nil: undefined }),
      text: fc.oneof(fc.constantFrom(...PROBE_TEXTS), fc.string({ maxLength: 60 })),
    });
  },
  describeInput: (c) =>
    `${Buffer.from(c.bytes.subarray(0, 28)).toString('hex')} (${c.bytes.length} bytes), tokenizer ${c.tokenizer ? Buffer.from(c.tokenizer.subarray(0, 80)).toString('hex') : 'none'}, text ${JSON.stringify(c.text)}`,
  async run(c, ctx) {
    const dir = join(ctx.tmp, 'l2c');
    const path = join(dir, 'model.bin');
    writeFileSync(path, c.bytes);
    const tokPath = join(dir, 'tokenizer.bin');
    if (c.tokenizer) writeFileSync(tokPath, c.tokenizer);
    else writeFileSync(tokPath, llama2cTokenizerBytes(TINY_PIECES));
    const { dispatch } = modelCtx.get(ctx)!;
    const reply = await dispatch('models.inspect', { path });
    if (!reply.ok) return rejected(judgeEnvelope(reply.error as ApiErrorData, { needsFile: true }));
    const config = readLlama2cConfig(path);
    try {
      checkMemory(config, path);
    } catch (err) {
      return rejected(judgeError(err, { needsFile: true }));
    }
    if (config.parameters * 4 > LOAD_LIMIT_BYTES) return ACCEPTED;
    const before = tf.memory().numTensors;
    let loaded;
    try {
      loaded = await loadModel(path);
    } catch (err) {
      if (tf.memory().numTensors !== before) throw new CaseFailure('crash', `a failed load left ${tf.memory().numTensors - before} tensors behind`);
      return rejected(judgeError(err, { needsFile: true }));
    }
    try {
      const tokenizer = loaded.tokenizer;
      if (tokenizer) {
        const ids = tokenizer.encode(c.text);
        if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < tokenizer.vocabSize)) {
          throw new CaseFailure('crash', `llama2.c tokenizer gave ids outside its ${tokenizer.vocabSize} pieces: ${ids.slice(0, 12)}`);
        }
        tokenizer.decode(ids);
      }
    } catch (err) {
      if (err instanceof CaseFailure) throw err;
      throw new CaseFailure(
        'crash',
        `a tokenizer that loaded fails on ${JSON.stringify(c.text)}: ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`,
      );
    } finally {
      loaded.dispose();
    }
    return ACCEPTED;
  },
});

/** The llama2.c tokenizer file alone (read with and without an expected vocabulary). */
export const llama2cTokenizerTarget = defineTarget<{ bytes: Uint8Array; expected?: number; text: string }>({
  name: 'llama2c-tokenizer',
  description: 'tokenizer.bin (generated pieces, hostile lengths, truncation) → Llama2cTokenizer.read, encode, decode',
  arbitrary: () => {
    const tinyTok = llama2cTokenizerBytes(TINY_PIECES);
    return fc.record({
      bytes: fc.oneof(
        mutatedBytes([tinyTok], [new Uint8Array([0xff, 0xff, 0xff, 0x7f]), new Uint8Array([0, 0, 0, 0x80]), new Uint8Array([0, 0, 0xc0, 0x7f])]),
        fc.tuple(fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 40 }), fc.integer({ min: -2, max: 2000 })).map(([p, max]) => llama2cTokenizerBytes(p, max)),
      ),
      expected: fc.option(fc.integer({ min: 0, max: 64 }), { nil: undefined }),
      text: fc.oneof(fc.constantFrom(...PROBE_TEXTS), fc.string({ maxLength: 60 })),
    });
  },
  describeInput: (c) => `${Buffer.from(c.bytes.subarray(0, 120)).toString('hex')} expected ${c.expected} text ${JSON.stringify(c.text)}`,
  async run(c, ctx) {
    const path = join(ctx.tmp, 'tok.bin');
    writeFileSync(path, c.bytes);
    let tok: Llama2cTokenizer;
    try {
      tok = Llama2cTokenizer.read(path, c.expected);
    } catch (err) {
      return rejected(judgeError(err, { needsFile: true }));
    }
    try {
      const ids = tok.encode(c.text);
      const text = tok.decode(ids);
      if (typeof text !== 'string') throw new Error('decode returned no text');
      if (!ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize)) throw new CaseFailure('crash', `ids out of range: ${ids.slice(0, 12)}`);
    } catch (err) {
      if (err instanceof CaseFailure) throw err;
      throw new CaseFailure(
        'crash',
        `a tokenizer that loaded fails on ${JSON.stringify(c.text)}: ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`,
      );
    }
    return ACCEPTED;
  },
});

export { unclearReason, CALLS };
