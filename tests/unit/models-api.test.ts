// models.discover through the app's dispatcher: the stores of a fake home are scanned in the model worker, broken
// entries carry their reason, user folders are confined like every client path, a found model imports with one
// call although its store lies outside the picked folders (and nothing else outside them does), a scan can be
// cancelled; models.generate takes a conversation (`messages`) formatted by the model's chat template.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiscoveredModel } from '@shared/contract';
import type { CallResult } from '@shared/contract/client';
import { makeFakeStores, type FakeStores } from '../e2e/fake-model-stores';
import { createAppContext, type AppContext } from '../../src/main/app/context';
import { createDispatcher, type Dispatch } from '../../src/main/rpc/dispatch';
import { handlers } from '../../src/main/handlers';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-models-handlers-'));
let stores: FakeStores;
let ctx: AppContext;
let dispatch: Dispatch;
const savedEnv = { ...process.env };

beforeAll(() => {
  stores = makeFakeStores(join(tmp, 'stores'));
  // The model worker starts with this process's environment: the fake home's stores, not the machine's.
  Object.assign(process.env, stores.env);
  mkdirSync(join(tmp, 'picked', 'empty'), { recursive: true });
  ctx = createAppContext({ home: join(tmp, 'app-home'), shell: 'headless', roots: [join(tmp, 'picked')] });
  dispatch = createDispatcher(handlers, ctx);
});

afterAll(() => {
  ctx?.modelWorker.close();
  process.env = savedEnv;
  rmSync(tmp, { recursive: true, force: true });
});

async function ok<T>(name: string, request: unknown): Promise<T> {
  const reply: CallResult = await dispatch(name, request);
  if (!reply.ok) throw new Error(`${name} failed: ${reply.error.message}`);
  return reply.result as T;
}

async function fails(name: string, request: unknown): Promise<{ code: string; message: string; field?: string }> {
  const reply = await dispatch(name, request);
  if (reply.ok) throw new Error(`${name} should have failed`);
  return reply.error;
}

function byName(models: DiscoveredModel[], name: string): DiscoveredModel {
  const found = models.find((m) => m.name === name);
  if (!found) throw new Error(`${name} not among ${models.map((m) => m.name).join(', ')}`);
  return found;
}

describe('models.discover', () => {
  it('lists the fake home’s Hugging Face and Ollama models, and the broken one with its reason', async () => {
    const { models, warnings } = await ok<{ models: DiscoveredModel[]; warnings: string[] }>('models.discover', {});
    expect(warnings).toEqual([]);
    const llama = byName(models, 'prefixlab/llama-gqa');
    expect(llama).toMatchObject({ source: 'huggingface', format: 'hf', architecture: 'llama', path: stores.llamaSnapshot, quantization: { F32: 21 } }); // 2 layers × 9 + embeddings, final norm, lm_head
    expect(llama.error).toBeUndefined();
    expect(llama.importedId).toBeUndefined();
    expect(byName(models, 'prefixlab/qwen2-chat')).toMatchObject({ source: 'huggingface', architecture: 'qwen2' });
    const broken = byName(models, 'missing-blob:latest');
    expect(broken.source).toBe('ollama');
    expect(broken.error).toMatch(/missing-blob.latest.*: the model blob blobs\/sha256-[0-9a-f]{64} this manifest names is missing/);
  });

  it('scans a user folder inside the picked folders, and refuses one outside them naming the field', async () => {
    const inside = await ok<{ models: DiscoveredModel[]; warnings: string[] }>('models.discover', { folders: [join(tmp, 'picked', 'empty')] });
    expect(inside.models.filter((m) => m.source === 'folder')).toEqual([]);
    const error = await fails('models.discover', { folders: [join(tmp, 'picked', 'empty'), stores.home] });
    expect(error).toMatchObject({ code: 'forbidden', field: 'folders.1' });
    expect(error.message).toContain('outside the folders you picked');
    expect((await fails('models.discover', { folders: ['relative/path'] })).field).toBe('folders.0');
  });

  it('imports a found model in place although its store is outside the picked folders; other outside paths stay refused', async () => {
    // Not found by a scan (the broken Ollama entry's manifest, a folder beside the store): refused as before.
    expect((await fails('models.import', { path: stores.home })).code).toBe('forbidden');
    const { models } = await ok<{ models: DiscoveredModel[] }>('models.discover', {});
    const broken = byName(models, 'missing-blob:latest');
    expect((await fails('models.import', { path: broken.path })).code).toBe('forbidden');

    const entry = await ok<{ id: string; path: string; name: string; format: string; card: { architecture: string; hasChatTemplate?: boolean } }>('models.import', {
      path: stores.llamaSnapshot,
      name: 'prefixlab/llama-gqa',
    });
    expect(entry).toMatchObject({ path: stores.llamaSnapshot, name: 'prefixlab/llama-gqa', format: 'hf', card: { architecture: 'llama', hasChatTemplate: false } });
    // The next scan marks it as imported.
    const again = await ok<{ models: DiscoveredModel[] }>('models.discover', {});
    expect(byName(again.models, 'prefixlab/llama-gqa').importedId).toBe(entry.id);
    expect(byName(again.models, 'prefixlab/qwen2-chat').importedId).toBeUndefined();
  });

  it('a scan with an id is cancelled by models.cancelDiscovery', async () => {
    const scan = dispatch('models.discover', { discoveryId: 'scan-1' });
    expect(await ok('models.cancelDiscovery', { discoveryId: 'scan-1' })).toEqual({ cancelled: true });
    const reply = await scan;
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error.code).toBe('cancelled');
    expect(await ok('models.cancelDiscovery', { discoveryId: 'scan-1' })).toEqual({ cancelled: false });
  });
});

describe('models.generate with messages', () => {
  it('answers a conversation through the chat template, and needs exactly one of prompt or messages', async () => {
    await ok('models.discover', {});
    const qwen = await ok<{ id: string; card: { hasChatTemplate?: boolean } }>('models.import', { path: stores.qwenSnapshot, name: 'qwen2-chat' });
    expect(qwen.card.hasChatTemplate).toBe(true);
    const request = { modelId: qwen.id, maxNewTokens: 4, temperature: 0, generationId: 'chat-1' };
    const messages = [
      { role: 'user', content: 'Once upon a time' },
      { role: 'assistant', content: 'there was a cat.' },
      { role: 'user', content: 'And then?' },
    ];
    const chat = await ok<{ promptTokens: number; generatedTokens: number; text: string }>('models.generate', { ...request, messages });
    expect(chat.generatedTokens).toBeGreaterThan(0);
    // The template wraps every turn in <|im_start|>role … <|im_end|> and opens the assistant's turn: far more tokens than the text alone.
    const plain = await ok<{ promptTokens: number }>('models.generate', { ...request, generationId: 'chat-2', prompt: 'Once upon a time there was a cat. And then?' });
    expect(chat.promptTokens).toBeGreaterThan(plain.promptTokens + 6);

    const both = await fails('models.generate', { ...request, generationId: 'chat-3', prompt: 'x', messages });
    expect(both).toMatchObject({ code: 'invalid_argument', field: 'prompt' });
    expect(both.message).toContain('exactly one of prompt or messages');
    expect((await fails('models.generate', { ...request, generationId: 'chat-4' })).field).toBe('prompt');
    expect((await fails('models.generate', { ...request, generationId: 'chat-5', messages: [{ role: 'wizard', content: 'hi' }] })).field).toBe('messages.0.role');

    const llama = await ok<{ models: { id: string; name: string }[] }>('models.list', {});
    const noTemplate = llama.models.find((m) => m.name === 'prefixlab/llama-gqa')!;
    const refused = await fails('models.generate', { ...request, modelId: noTemplate.id, generationId: 'chat-6', messages });
    expect(refused.code).toBe('unsupported');
    expect(refused.message).toContain('chat_template');
  });
});
