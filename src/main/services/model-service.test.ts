import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { fixturesDir, hasStories, stories } from '../engine/test-paths';
import { generateText, getModel, inspectModel, lastLogits, unloadModels } from './model-service';

const HAS_STORIES = hasStories();

afterAll(async () => {
  await unloadModels();
  expect(tf.memory().numTensors).toBe(0);
});

describe.skipIf(!HAS_STORIES)('model service (stories260K)', () => {
  const reference = HAS_STORIES ? (JSON.parse(readFileSync(stories.reference, 'utf8')) as { greedy_ids: number[]; greedy_text: string; first_step_logits: number[] }) : null!;

  it('inspects both formats without loading weights', async () => {
    const hf = await inspectModel(stories.hf);
    expect(hf).toEqual({
      format: 'hf',
      architecture: 'llama',
      parameters: 260_032,
      layers: 5,
      hidden: 64,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      vocab: 512,
      dtype: 'F32',
      tiedEmbeddings: true,
      context: 512,
      memoryBytesFloat32: 260_032 * 4,
      chatTemplate: false,
    });
    expect(await inspectModel(stories.llama2c)).toEqual({ ...hf, format: 'llama2c' });
    expect(tf.memory().numTensors).toBe(0);
  });

  it('returns last-position logits on the requested backend', async () => {
    const { backend, logits } = await lastLogits({ model: stories.llama2c, ids: [1], backend: 'cpu' });
    expect(backend).toBe('cpu');
    expect(logits).toHaveLength(512);
    expect(Math.max(...logits.map((v, i) => Math.abs(v - reference.first_step_logits[i])))).toBeLessThan(1e-4);
  });

  it('generates greedy text from a prompt, streaming tokens, with the model cached', async () => {
    const streamed: string[] = [];
    const result = await generateText({ model: stories.hf, prompt: '', maxNewTokens: 40, backend: 'wasm', onToken: ({ text }) => streamed.push(text) });
    expect(result.backend).toBe('wasm');
    expect(result.promptIds).toEqual([1]);
    expect(result.ids).toEqual(reference.greedy_ids.slice(0, 40));
    expect(reference.greedy_text.startsWith(result.text)).toBe(true);
    expect(streamed.join('')).toBe(result.text);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    const first = await getModel(stories.hf);
    expect((await getModel(stories.hf)).loaded).toBe(first.loaded);
  });

  it('continues a text prompt and cuts at a stop string', async () => {
    const result = await generateText({ model: stories.hf, prompt: 'Once upon a time', maxNewTokens: 30, stopStrings: ['.'] });
    expect(result.promptIds).toEqual([1, 403, 407, 261, 378]);
    expect(result.finishReason).toBe('stop_string');
    expect(result.text).not.toContain('.');
    expect(result.text.length).toBeGreaterThan(0);
  });

  it('samples reproducibly with a seed', async () => {
    const req = { model: stories.llama2c, promptIds: [1, 403], maxNewTokens: 20, temperature: 1, topP: 0.9, seed: 5 };
    const a = await generateText(req);
    expect((await generateText(req)).ids).toEqual(a.ids);
  });

  it('rejects bad requests with ApiErrors', async () => {
    await expect(lastLogits({ model: stories.hf, ids: [600] })).rejects.toMatchObject({ code: 'invalid_argument', field: 'ids' });
    await expect(generateText({ model: stories.hf, maxNewTokens: 3 })).rejects.toBeInstanceOf(ApiError);
    await expect(inspectModel(join(stories.hf, 'nope'))).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe.skipIf(!existsSync(join(fixturesDir, 'qwen2')))('model service (qwen2 fixture)', () => {
  it('formats chat messages with the model template', async () => {
    const result = await generateText({ model: join(fixturesDir, 'qwen2'), messages: [{ role: 'user', content: 'Tell me a story about a cat.' }], maxNewTokens: 3 });
    const reference = JSON.parse(readFileSync(join(fixturesDir, 'qwen2/reference.json'), 'utf8'));
    expect(result.promptIds).toEqual(reference.chat_template_check.ids);
  });
});
