import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { initBackend } from '../backend';
import { generate } from '../generate';
import { hasStories, stories } from '../test-paths';
import { readLlama2cConfig } from './llama2c';
import { Llama2cTokenizer } from './llama2c-tokenizer';
import { loadModel, type LoadedModel } from './load-model';

const HAS_STORIES = hasStories();
const tokenizerPath = join(stories.llama2c, '..', 'tok512.bin');

describe.skipIf(!HAS_STORIES)('llama2.c import (stories260K)', () => {
  let reference: { greedy_ids: number[]; greedy_text: string; first_step_logits: number[] };
  let loaded: LoadedModel;
  let dir: string;

  beforeAll(async () => {
    await initBackend('wasm');
    reference = JSON.parse(readFileSync(stories.reference, 'utf8'));
    loaded = await loadModel(stories.llama2c);
    dir = mkdtempSync(join(tmpdir(), 'prefixlab-l2c-'));
  });
  afterAll(() => {
    loaded?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the header as a tied GQA llama config', () => {
    expect(loaded.model.config).toMatchObject({
      hidden: 64,
      layers: 5,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      intermediate: 172,
      vocabSize: 512,
      maxPositions: 512,
      tiedEmbeddings: true,
      parameters: 260_032,
    });
    expect(loaded.generation.eosTokenIds).toEqual([1]);
  });

  it('encodes with run.c merges and decodes the reference text', () => {
    const tokenizer = Llama2cTokenizer.read(tokenizerPath);
    expect(tokenizer.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(tokenizer.encode('Once upon a time', { addSpecialTokens: false })).toEqual([403, 407, 261, 378]);
    expect(tokenizer.decode(reference.greedy_ids)).toBe(reference.greedy_text);
    // Characters outside the vocabulary fall back to byte tokens and round-trip.
    const text = 'Zoë 🙂 ok';
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('reproduces the reference first-step logits and 256 greedy ids', async () => {
    const logits = tf.tidy(() => loaded.model.forward(tf.tensor2d([[1]], [1, 1], 'int32')));
    const values = await logits.data();
    logits.dispose();
    const maxDiff = Math.max(...reference.first_step_logits.map((v, i) => Math.abs(v - values[i])));
    expect(maxDiff).toBeLessThan(1e-4);
    const out = await generate(loaded.model, [[1]], { maxNewTokens: 256, eosTokenIds: loaded.generation.eosTokenIds });
    expect(out.ids[0]).toEqual(reference.greedy_ids);
  });

  it('rejects a truncated checkpoint, naming the file', () => {
    const path = join(dir, 'cut.bin');
    writeFileSync(path, readFileSync(stories.llama2c).subarray(0, 5000));
    expect(() => readLlama2cConfig(path)).toThrow(ApiError);
    expect(() => readLlama2cConfig(path)).toThrow(/truncated/);
  });

  it('rejects implausible header fields and versioned exports', () => {
    const bytes = Buffer.from(readFileSync(stories.llama2c));
    bytes.writeInt32LE(7, 12); // n_heads 7 does not divide dim 64
    const path = join(dir, 'heads.bin');
    writeFileSync(path, bytes);
    try {
      readLlama2cConfig(path);
      throw new Error('expected failure');
    } catch (err) {
      expect((err as ApiError).field).toBe('n_heads');
      expect((err as ApiError).file).toBe(path);
    }
    const versioned = join(dir, 'v1.bin');
    const magic = Buffer.alloc(256);
    magic.writeUInt32LE(0x616b3432, 0);
    writeFileSync(versioned, magic);
    expect(() => readLlama2cConfig(versioned)).toThrow(/versioned llama2\.c export/);
  });

  it('rejects a tokenizer with fewer tokens than the model vocabulary', () => {
    const path = join(dir, 'tok.bin');
    writeFileSync(path, readFileSync(tokenizerPath).subarray(0, 200));
    expect(() => Llama2cTokenizer.read(path, 512)).toThrow(/cut off|holds \d+ tokens/);
    copyFileSync(tokenizerPath, path);
    expect(Llama2cTokenizer.read(path, 512).vocabSize).toBe(512);
  });
});
