// The model worker keeps serve's event loop free: a stuck call runs in the worker process while the server
// answers HTTP, a call past its time limit is killed (process gone, one clear error) and the next call gets a
// fresh worker; a cancelled call that does not stop in time is killed too; a hostile model folder imported
// through serve's handlers is refused by the worker with one line.
import { mkdtempSync, mkdirSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { createAppContext } from '../../app/context';
import { handlers } from '../../handlers';
import { createDispatcher } from '../../rpc/dispatch';
import { startServer } from '../../server/http-server';
import { CANCEL_GRACE_MS, ModelWorker } from './client';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-worker-'));
const workers: ModelWorker[] = [];
afterAll(() => {
  workers.forEach((w) => w.close());
  rmSync(tmp, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the process ends within `ms` (polled: a killed child is gone once its parent has reaped it). */
async function endsWithin(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('model worker', () => {
  it('serve answers HTTP while a worker call is stuck, and the call past its limit is killed', async () => {
    const rendererDir = join(tmp, 'renderer');
    mkdirSync(rendererDir);
    writeFileSync(join(rendererDir, 'index.html'), '<div id="app"></div>');
    const app = createAppContext({ home: join(tmp, 'home'), shell: 'headless' });
    workers.push(app.modelWorker);
    const server = await startServer({ host: '127.0.0.1', port: 0, rendererDir, dispatch: createDispatcher(handlers, app), events: app.events, token: 't0k3n' });
    try {
      const stuck = app.modelWorker.call('spin', { ms: 60_000 }, { timeoutMs: 8000 });
      let settled = false;
      const outcome = stuck.catch((err: unknown) => err).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 1500)); // the worker has started and is spinning
      const pid = app.modelWorker.pid!;
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, path: '/?token=t0k3n' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(200);
      // Answered while the worker was still spinning: the event loop never waited on it.
      expect(settled).toBe(false);
      const err = await outcome;
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).message).toBe('spin took longer than its 8 s limit and was stopped');
      expect(await endsWithin(pid, 10_000)).toBe(true);
      // A fresh worker serves the next call.
      await expect(app.modelWorker.call('spin', { ms: 1 })).resolves.toEqual({ spun: 1 });
      expect(app.modelWorker.pid).not.toBe(pid);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('a cancelled call fails at once; a worker that does not stop it is killed after the grace period', async () => {
    const worker = new ModelWorker();
    workers.push(worker);
    await worker.call('spin', { ms: 1 }); // started
    const pid = worker.pid!;
    const controller = new AbortController();
    const call = worker.call('spin', { ms: 60_000 }, { signal: controller.signal }).catch((err: unknown) => err);
    setTimeout(() => controller.abort(), 200);
    const err = await call;
    expect(err).toMatchObject({ code: 'cancelled', message: 'spin was cancelled' });
    // The caller heard before the worker was stopped: the worker still spins until the grace period ends.
    expect(alive(pid)).toBe(true);
    await new Promise((r) => setTimeout(r, CANCEL_GRACE_MS - 500));
    expect(alive(pid)).toBe(true);
    expect(await endsWithin(pid, 10_000)).toBe(true);
  }, 30_000);

  it('models.import of a folder whose config.json is a FIFO is refused by the worker with one line', async () => {
    const app = createAppContext({ home: join(tmp, 'home2'), shell: 'headless', roots: [tmp] });
    workers.push(app.modelWorker);
    const dir = join(tmp, 'fifo-model');
    cpSync(join(import.meta.dirname, '../../../../tests/fixtures/models/llama-gqa'), dir, { recursive: true });
    rmSync(join(dir, 'config.json'));
    execFileSync('mkfifo', [join(dir, 'config.json')]);
    const dispatch = createDispatcher(handlers, app);
    const reply = (await dispatch('models.import', { path: dir })) as { ok: boolean; error?: { code: string; message: string; file?: string } };
    expect(reply.ok).toBe(false);
    expect(reply.error).toMatchObject({ code: 'bad_file', file: join(dir, 'config.json') });
    expect(reply.error?.message).toBe('config.json is a FIFO (named pipe), not a regular file; refusing to read it');
  }, 60_000);

  it('datasets.previewTokens shows the EOS the trainer appends to an unlabelled target, and none for a labelled row', async () => {
    const fixtures = join(import.meta.dirname, '../../../../tests/fixtures/models');
    const app = createAppContext({ home: join(tmp, 'home3'), shell: 'headless', roots: [fixtures] });
    workers.push(app.modelWorker);
    const dispatch = createDispatcher(handlers, app);
    const imported = (await dispatch('models.import', { path: join(fixtures, 'llama-gqa') })) as { ok: boolean; result?: { id: string }; error?: unknown };
    expect(imported).toMatchObject({ ok: true });
    const modelId = imported.result!.id;
    type Reply = { ok: boolean; result?: { tokens: { id: number; text: string; isPrompt: boolean }[]; targetTokens: number } };
    const completion = (await dispatch('datasets.previewTokens', { modelId, prompt: 'Once upon', target: ' a time' })) as Reply;
    const labelled = (await dispatch('datasets.previewTokens', { modelId, prompt: 'Once upon', target: ' a time', label: 'story' })) as Reply;
    expect(completion.ok && labelled.ok).toBe(true);
    const eos = completion.result!.tokens.at(-1)!;
    expect(eos.isPrompt).toBe(false);
    expect(completion.result!.tokens).toHaveLength(labelled.result!.tokens.length + 1);
    expect(labelled.result!.tokens.at(-1)!.id).not.toBe(eos.id);
    expect(completion.result!.targetTokens).toBe(labelled.result!.targetTokens + 1);
  }, 60_000);

  it("datasets.inspect with a model renders chat data, and a template with chat: true, in the model's own chat template", async () => {
    const fixtures = join(import.meta.dirname, '../../../../tests/fixtures/models');
    const data = join(tmp, 'data');
    mkdirSync(data, { recursive: true });
    const chat = join(data, 'chat.jsonl');
    writeFileSync(
      chat,
      JSON.stringify({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
        ],
      }) + '\n',
    );
    const labelled = join(data, 'labelled.jsonl');
    writeFileSync(labelled, ['{"text":"loved it","label":"positive"}', '{"text":"dull","label":"negative"}'].join('\n'));
    const app = createAppContext({ home: join(tmp, 'home4'), shell: 'headless', roots: [fixtures, data] });
    workers.push(app.modelWorker);
    const dispatch = createDispatcher(handlers, app);
    const imported = (await dispatch('models.import', { path: join(fixtures, 'qwen2') })) as { ok: boolean; result?: { id: string } };
    const modelId = imported.result!.id;
    type Reply = { ok: boolean; result?: { preview: { prompt?: string; target?: string }[] }; error?: unknown };
    const withModel = (await dispatch('datasets.inspect', { file: chat, modelId })) as Reply;
    expect(withModel.ok, JSON.stringify(withModel.error)).toBe(true);
    expect(withModel.result!.preview[0]).toMatchObject({ target: 'Hello!<|im_end|>\n' });
    expect(withModel.result!.preview[0].prompt).toContain('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    // Without a model there is no chat template to use: the plain role format.
    const plain = (await dispatch('datasets.inspect', { file: chat })) as Reply;
    expect(plain.result!.preview[0]).toMatchObject({ prompt: 'User: Hi\nAssistant:', target: ' Hello!' });
    const template = { prompt: '{{text}}', target: ' {{label}}', system: 'Answer positive or negative.', chat: true };
    const wrapped = (await dispatch('datasets.inspect', { file: labelled, modelId, template })) as Reply;
    expect(wrapped.ok, JSON.stringify(wrapped.error)).toBe(true);
    expect(wrapped.result!.preview[0].prompt).toContain('<|im_start|>system\nAnswer positive or negative.<|im_end|>\n<|im_start|>user\nloved it<|im_end|>');
    expect(wrapped.result!.preview[0].target).toBe('positive<|im_end|>\n');
  }, 60_000);
});
