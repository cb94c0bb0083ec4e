// models.generate and training.generate with `adapterId` through the app's dispatcher (the model worker for the
// playground): a registry adapter attached changes the text against the base model's; an adapter made on
// another model, an unknown id and a path are one clear line each naming adapterId; training.generate keeps
// taking runId and takes exactly one of the two.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallResult } from '@shared/contract/client';
import { createAppContext, type AppContext } from '../../src/main/app/context';
import { createDispatcher, type Dispatch } from '../../src/main/rpc/dispatch';
import { handlers } from '../../src/main/handlers';
import { initBackend } from '../../src/main/engine/backend';
import { fixturesDir } from '../../src/main/engine/test-paths';
import { makeRandomAdapter } from '../../src/main/export/testing/random-adapter';
import { unloadModels } from '../../src/main/services/model-service';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-generate-adapter-'));
const home = join(tmp, 'home');
const llama = join(fixturesDir, 'llama-gqa');
const qwen2 = join(fixturesDir, 'qwen2');
let ctx: AppContext;
let dispatch: Dispatch;

beforeAll(async () => {
  await initBackend('cpu');
  ctx = createAppContext({ home, shell: 'headless', roots: [fixturesDir] });
  dispatch = createDispatcher(handlers, ctx);
});

afterAll(async () => {
  ctx?.modelWorker.close();
  await unloadModels();
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

describe('models.generate with adapterId', () => {
  it('attaches the registry adapter (text differs from the base), switches back, and refuses wrong bases, unknown ids and paths in one line', async () => {
    const model = await ok<{ id: string }>('models.import', { path: llama, name: 'llama-gqa' });
    const a = await makeRandomAdapter(home, llama, 'lora', { rank: 4, alpha: 64 }, 3);
    const b = await makeRandomAdapter(home, llama, 'lora', { rank: 4, alpha: 64 }, 5);
    const request = { modelId: model.id, prompt: 'Once upon a time', maxNewTokens: 8, temperature: 0 };
    const gen = async (n: number, adapterId?: string) =>
      (await ok<{ text: string; generatedTokens: number }>('models.generate', { ...request, generationId: `gen-${n}`, ...(adapterId ? { adapterId } : {}) })).text;
    const base = await gen(1);
    const tunedA = await gen(2, a.id);
    const tunedB = await gen(3, b.id);
    expect(tunedA).not.toBe(base);
    expect(tunedB).not.toBe(tunedA);
    // The worker's session of A is not reused for B or for the base, and A again is A.
    expect(await gen(4)).toBe(base);
    expect(await gen(5, a.id)).toBe(tunedA);

    const onQwen = await makeRandomAdapter(home, qwen2, 'lora', { rank: 2, alpha: 4 }, 7);
    const wrongBase = await fails('models.generate', { ...request, generationId: 'gen-6', adapterId: onQwen.id });
    expect(wrongBase).toMatchObject({ code: 'conflict', field: 'adapterId' });
    expect(wrongBase.message).toBe(`adapter ${onQwen.id} was made on ${qwen2}, not on ${llama} (the weight files differ)`);

    const unknown = await fails('models.generate', { ...request, generationId: 'gen-7', adapterId: 'no-such-adapter' });
    expect(unknown).toMatchObject({ code: 'not_found', field: 'adapterId' });
    expect(unknown.message).toBe(`no adapter or run "no-such-adapter" in ${home}`);

    // Ids only: a folder path never reaches the worker.
    const path = await fails('models.generate', { ...request, generationId: 'gen-8', adapterId: join(tmp, 'peft') });
    expect(path).toMatchObject({ code: 'invalid_argument', field: 'adapterId' });
    expect(path.message).toContain('not an adapter or run id');
  });
});

describe('training.generate with adapterId', () => {
  it('compares the base with any registry adapter on its recorded base; exactly one of runId or adapterId', async () => {
    const a = await makeRandomAdapter(home, llama, 'lora', { rank: 4, alpha: 64 }, 3);
    const prompts = ['Once upon a time', 'The cat'];
    const { rows } = await ok<{ rows: { prompt: string; base: string; tuned: string }[] }>('training.generate', { adapterId: a.id, prompts, maxNewTokens: 8 });
    expect(rows.map((r) => r.prompt)).toEqual(prompts);
    expect(rows.some((r) => r.tuned !== r.base)).toBe(true);
    // The same adapter in the playground continues the same prompt the same way (greedy, no sampling).
    const model = await ok<{ id: string }>('models.import', { path: llama });
    const playground = await ok<{ text: string }>('models.generate', {
      modelId: model.id,
      prompt: prompts[0],
      maxNewTokens: 8,
      temperature: 0,
      generationId: 'bvt-1',
      adapterId: a.id,
    });
    expect(playground.text).toBe(rows[0].tuned);

    const both = await fails('training.generate', { runId: 'r1', adapterId: a.id, prompts, maxNewTokens: 8 });
    expect(both).toMatchObject({ code: 'invalid_argument', field: 'runId' });
    expect(both.message).toContain('exactly one of runId or adapterId');
    expect((await fails('training.generate', { prompts, maxNewTokens: 8 })).field).toBe('runId');
    const unknown = await fails('training.generate', { adapterId: 'no-such-adapter', prompts, maxNewTokens: 8 });
    expect(unknown).toMatchObject({ code: 'not_found', field: 'adapterId' });
    // runId keeps working as before: an unknown run is still its own error.
    expect((await fails('training.generate', { runId: 'no-such-run', prompts, maxNewTokens: 8 })).code).toBe('not_found');
  });
});
