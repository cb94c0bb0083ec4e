// Two `serve` instances over loopback (a "remote" and a "local" home): an adapter written into the remote's
// registry is pulled into the local one through the local server's adapters.pull call, byte for byte, and then
// works there (adapters.show, logits with it equal the remote's). Bad token, unknown id, oversized, truncated
// or altered downloads and plain remote http/ws are each one line, and leave nothing in the local registry.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { createAppContext } from '../../app/context';
import { initBackend } from '../../engine/backend';
import { loadModel } from '../../engine/io/load-model';
import { getMethod, parseMethodOptions } from '../../engine/methods/registry';
import { hasStories, stories } from '../../engine/test-paths';
import { handlers } from '../../handlers';
import { hashModelFiles, saveAdapter } from '../../registry/adapter-store';
import { createDispatcher } from '../../rpc/dispatch';
import { startServer, type RunningServer } from '../../server/http-server';
import { lookupAdapterFile } from './adapter-files';
import { exportAdapter } from '../../export/export-adapter';
import { lastLogits } from '../model-service';
import { pullAdapter } from './adapter-pull';
import { parseRemoteUrl } from './remote-url';

const HAS_STORIES = hasStories();

function localAdapters(home: string): string[] {
  const dir = join(home, 'adapters');
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function expectOneLine(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).code).toBe(code);
  expect((err as ApiError).message).toMatch(pattern);
  expect((err as ApiError).message).not.toContain('\n');
}

describe('remote URLs', () => {
  it('refuses plain http/ws to another machine in one line, allows TLS and loopback', () => {
    for (const url of ['ws://10.1.2.3:8765', 'http://gpu-box.example:8765', 'http://127.evil.example:1']) {
      expect(() => parseRemoteUrl(url)).toThrow(/plain, unencrypted traffic.*https:\/\/ or wss:\/\/.*SSH tunnel/);
    }
    expect(parseRemoteUrl('wss://gpu-box.example:8443/lab/')).toMatchObject({
      httpBase: 'https://gpu-box.example:8443/lab',
      rpcUrl: 'wss://gpu-box.example:8443/lab/rpc',
      secure: true,
    });
    expect(parseRemoteUrl('http://127.0.0.1:8765')).toMatchObject({ httpBase: 'http://127.0.0.1:8765', rpcUrl: 'ws://127.0.0.1:8765/rpc' });
    expect(parseRemoteUrl('ws://[::1]:8765').httpBase).toBe('http://[::1]:8765');
    expect(() => parseRemoteUrl('https://h.example/?token=abc')).toThrow(/without user, password, \?query/);
    expect(() => parseRemoteUrl('ftp://h.example')).toThrow(/not ftp:/);
  });
});

describe.skipIf(!HAS_STORIES)('adapters pull between two serve instances (stories260K)', () => {
  const renderer = mkdtempSync(join(tmpdir(), 'prefixlab-pull-renderer-'));
  const remoteHome = mkdtempSync(join(tmpdir(), 'prefixlab-pull-remote-'));
  const localHome = mkdtempSync(join(tmpdir(), 'prefixlab-pull-local-'));
  let remote: RunningServer;
  let local: RunningServer;
  let remoteUrl: string;
  let adapterId: string;
  let fake: Server | undefined;

  beforeAll(async () => {
    writeFileSync(join(renderer, 'index.html'), '<div id="app"></div>');
    await initBackend('cpu');
    const loaded = await loadModel(stories.hf);
    const options = parseMethodOptions('lora', { rank: 2 });
    const adapter = getMethod('lora').attach(loaded.model, options as never, { seed: 5 });
    const state = adapter.stateDict();
    // LoRA's B starts at zero (no effect); give it values so the pulled adapter visibly changes the logits.
    for (const [name, t] of Object.entries(state)) if (name.includes('lora_B')) t.data.forEach((_, i) => (t.data[i] = ((i % 7) - 3) * 0.05));
    const manifest = await saveAdapter(remoteHome, {
      name: 'pulled lora',
      method: 'lora',
      options,
      state,
      baseModel: { path: stories.hf, architecture: loaded.model.config.architecture, parameters: loaded.model.config.parameters, files: await hashModelFiles(stories.hf) },
      seed: 5,
      backend: 'cpu',
    });
    adapter.dispose();
    loaded.dispose();
    adapterId = manifest.id;
    for (const [home, set] of [
      [remoteHome, (s: RunningServer) => (remote = s)],
      [localHome, (s: RunningServer) => (local = s)],
    ] as const) {
      const app = createAppContext({ home, shell: 'headless' });
      set(
        await startServer({
          host: '127.0.0.1',
          port: 0,
          rendererDir: renderer,
          dispatch: createDispatcher(handlers, app),
          events: app.events,
          adapterFiles: (id, file) => lookupAdapterFile(home, id, file),
        }),
      );
    }
    remoteUrl = `http://127.0.0.1:${remote.port}`;
  }, 120_000);

  afterAll(async () => {
    await remote?.close();
    await local?.close();
    fake?.close();
    for (const dir of [renderer, remoteHome, localHome]) rmSync(dir, { recursive: true, force: true });
  });

  /** One call on the local serve's WebSocket API, as a client (the desktop app, a browser) makes it. */
  function localCall(name: string, request: unknown): Promise<{ ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${local.port}/rpc`, { headers: { Authorization: `Bearer ${local.token}` } });
      ws.once('error', reject);
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, call: name, request })));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data));
        if (msg.id !== 1) return;
        ws.close();
        resolve(msg);
      });
    });
  }

  it('serves only ids and known files, with the token', async () => {
    const get = (path: string, token?: string) => fetch(`${remoteUrl}${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
    expect((await get(`/api/adapters/${adapterId}/manifest.json`)).status).toBe(401);
    expect((await get(`/api/adapters/${adapterId}/labels.json`, remote.token)).status).toBe(404);
    expect((await get(`/api/adapters/..%2Fruns/manifest.json`, remote.token)).status).toBe(400);
    expect((await get(`/api/adapters/no-such-adapter/manifest.json`, remote.token)).status).toBe(404);
    const res = await get(`/api/adapters/${adapterId}/adapter.safetensors`, remote.token);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(remoteHome, 'adapters', adapterId, 'adapter.safetensors')))).toBe(true);
  });

  it('refuses a bad token, an unknown id and plain remote ws:// in one line each, writing nothing', async () => {
    const bad = await localCall('adapters.pull', { url: remoteUrl, token: 'wrong-token', adapterId });
    expect(bad.error).toMatchObject({ code: 'forbidden' });
    expect(bad.error!.message).toMatch(/refused the token \(401\)/);
    const unknown = await localCall('adapters.pull', { url: remoteUrl, token: remote.token, adapterId: 'no-such-adapter' });
    expect(unknown.error).toMatchObject({ code: 'not_found' });
    expect(unknown.error!.message).toMatch(/no adapter no-such-adapter on this server \(404\)/);
    const plain = await localCall('adapters.pull', { url: 'ws://192.0.2.10:8765', token: remote.token, adapterId });
    expect(plain.error).toMatchObject({ code: 'forbidden' });
    expect(plain.error!.message).toMatch(/use https:\/\/ or wss:\/\/.*SSH tunnel/);
    for (const e of [bad, unknown, plain]) expect(e.error!.message).not.toContain('\n');
    expect(localAdapters(localHome)).toEqual([]);
  });

  it('refuses an oversized download, writing nothing', async () => {
    const limits = { manifest: { maxBytes: 1 << 20, timeoutMs: 10_000 }, tensors: { maxBytes: 100, timeoutMs: 10_000 } };
    await expectOneLine(pullAdapter({ home: localHome, url: remoteUrl, token: remote.token, adapterId, limits }), 'bad_file', /over the 100-byte limit/);
    expect(localAdapters(localHome)).toEqual([]);
  });

  it('refuses a truncated and an altered download, writing nothing', async () => {
    const manifest = readFileSync(join(remoteHome, 'adapters', adapterId, 'manifest.json'));
    const tensors = readFileSync(join(remoteHome, 'adapters', adapterId, 'adapter.safetensors'));
    let mode: 'truncate' | 'alter' = 'truncate';
    fake = createServer((req, res) => {
      if (req.url?.endsWith('/manifest.json')) return void res.writeHead(200, { 'Content-Length': String(manifest.length) }).end(manifest);
      if (mode === 'alter') {
        const altered = Buffer.from(tensors);
        altered[altered.length - 1] ^= 0xff;
        return void res.writeHead(200, { 'Content-Length': String(altered.length) }).end(altered);
      }
      res.writeHead(200, { 'Content-Length': String(tensors.length) });
      res.write(tensors.subarray(0, tensors.length >> 1), () => res.destroy());
    });
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', () => r()));
    const fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    await expectOneLine(pullAdapter({ home: localHome, url: fakeUrl, token: 't', adapterId }), 'bad_file', /cut short after \d+ of \d+ bytes/);
    mode = 'alter';
    await expectOneLine(pullAdapter({ home: localHome, url: fakeUrl, token: 't', adapterId }), 'bad_file', /sha256 .* differs from the manifest's/);
    expect(localAdapters(localHome)).toEqual([]);
  });

  it('pulls the adapter byte for byte; it shows and computes the same logits locally; a second pull is identical', async () => {
    const pulled = await localCall('adapters.pull', { url: remoteUrl, token: remote.token, adapterId });
    expect(pulled.error).toBeUndefined();
    expect(pulled.result).toMatchObject({ id: adapterId, status: 'pulled', method: 'lora', baseModelPath: stories.hf, baseModelFound: true });
    expect(localAdapters(localHome)).toEqual([adapterId]);
    for (const file of ['manifest.json', 'adapter.safetensors']) {
      expect(readFileSync(join(localHome, 'adapters', adapterId, file)).equals(readFileSync(join(remoteHome, 'adapters', adapterId, file)))).toBe(true);
    }
    const shown = await localCall('adapters.show', { kind: 'adapter', id: adapterId });
    expect(shown.result).toMatchObject({ entry: { id: adapterId, kind: 'adapter', method: 'lora', name: 'pulled lora' } });
    const ids = [1, 50, 100, 200];
    const base = await lastLogits({ model: stories.hf, ids, backend: 'cpu' });
    const there = await lastLogits({ model: stories.hf, ids, adapter: adapterId, home: remoteHome, backend: 'cpu' });
    const here = await lastLogits({ model: stories.hf, ids, adapter: adapterId, home: localHome, backend: 'cpu' });
    expect(here.logits).toEqual(there.logits);
    expect(Math.max(...here.logits.map((v, i) => Math.abs(v - base.logits[i])))).toBeGreaterThan(1e-4);
    const again = await localCall('adapters.pull', { url: remoteUrl, token: remote.token, adapterId });
    expect(again.result).toMatchObject({ status: 'identical' });
    // The local registry exports it like its own adapters, reload parity included.
    const outDir = join(localHome, 'export-peft');
    const exported = await exportAdapter({ home: localHome, id: adapterId, format: 'peft', outDir });
    expect(exported.parity.ok).toBe(true);
  }, 120_000);

  it('never overwrites a different adapter with the same id', async () => {
    const other = mkdtempSync(join(tmpdir(), 'prefixlab-pull-other-'));
    try {
      mkdirSync(join(other, 'adapters', adapterId), { recursive: true });
      writeFileSync(join(other, 'adapters', adapterId, 'manifest.json'), '{"kind":"adapter"}');
      await expectOneLine(pullAdapter({ home: other, url: remoteUrl, token: remote.token, adapterId }), 'already_exists', /already exists here and differs/);
      expect(readFileSync(join(other, 'adapters', adapterId, 'manifest.json'), 'utf8')).toBe('{"kind":"adapter"}');
      expect(readdirSync(join(other, 'adapters'))).toEqual([adapterId]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
