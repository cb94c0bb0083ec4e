// The desktop app's "Remote PrefixLab": connecting checks URL and token against a real `serve` over loopback
// and saves them (owner-only settings file); while connected, calls go to the remote (its registry answers)
// and its events reach the local bus; remote.* and adapters.pull stay local; disconnect returns to the local
// handlers. A bad token, an unreachable server and plain remote ws:// are one line each and save nothing.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { createAppContext, type AppContext } from '../../app/context';
import { handlers } from '../../handlers';
import { saveAdapter } from '../../registry/adapter-store';
import { createDispatcher } from '../../rpc/dispatch';
import { startServer, type RunningServer } from '../../server/http-server';
import { lookupAdapterFile } from './adapter-files';
import { RemoteConnection, remoteConnectionFor } from './remote-connection';
import { SETTINGS_FILE } from './remote-settings';

describe('remote connection over loopback', () => {
  const renderer = mkdtempSync(join(tmpdir(), 'prefixlab-conn-renderer-'));
  const remoteHome = mkdtempSync(join(tmpdir(), 'prefixlab-conn-remote-'));
  const localHome = mkdtempSync(join(tmpdir(), 'prefixlab-conn-local-'));
  let remoteApp: AppContext;
  let localApp: AppContext;
  let server: RunningServer;
  let url: string;
  let adapterId: string;

  beforeAll(async () => {
    writeFileSync(join(renderer, 'index.html'), '<div id="app"></div>');
    // A tiny adapter in the remote registry only: listing it proves which registry answered.
    const manifest = await saveAdapter(remoteHome, {
      name: 'remote only',
      method: 'lora',
      options: {},
      state: { 'w.lora_A': { shape: [2], data: new Float32Array([1, 2]) } },
      baseModel: { path: remoteHome, architecture: 'llama', files: [] },
      backend: 'cpu',
    });
    adapterId = manifest.id;
    remoteApp = createAppContext({ home: remoteHome, shell: 'headless' });
    localApp = createAppContext({ home: localHome, shell: 'headless' });
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      rendererDir: renderer,
      dispatch: createDispatcher(handlers, remoteApp),
      events: remoteApp.events,
      adapterFiles: (id, file) => lookupAdapterFile(remoteHome, id, file),
    });
    url = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
    for (const dir of [renderer, remoteHome, localHome]) rmSync(dir, { recursive: true, force: true });
  });

  async function refusal(p: Promise<unknown>): Promise<ApiError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).not.toContain('\n');
    return err as ApiError;
  }

  it('refuses a bad token, a closed port and plain remote ws:// in one line, saving nothing', async () => {
    const conn = new RemoteConnection(localHome, localApp.events);
    expect((await refusal(conn.connect(url, 'not-the-token'))).message).toMatch(/refused the token \(401\)/);
    expect((await refusal(conn.connect('http://127.0.0.1:1', server.token))).message).toMatch(/cannot reach 127\.0\.0\.1:1: connection refused/);
    expect((await refusal(conn.connect('ws://203.0.113.5:8765', server.token))).message).toMatch(/use https:\/\/ or wss:\/\/.*SSH tunnel/);
    // A tunnel that changes the port number: the server's Host check (421) is named, with the fix.
    const forwarder = createNetServer((client) => {
      const upstream = connectTcp(server.port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => forwarder.listen(0, '127.0.0.1', () => r()));
    const tunnelPort = (forwarder.address() as AddressInfo).port;
    try {
      expect((await refusal(conn.connect(`http://127.0.0.1:${tunnelPort}`, server.token))).message).toMatch(/refused the Host header \(421\): a tunnel must keep the port/);
    } finally {
      forwarder.close();
    }
    expect(conn.status()).toMatchObject({ connected: false, url: null });
    expect(existsSync(join(localHome, SETTINGS_FILE))).toBe(false);
  });

  it('routes calls to the remote while connected, keeps remote.* local, and comes back on disconnect', async () => {
    // The app's own connection: the one the remote.* handlers answer from.
    const conn = remoteConnectionFor(localApp);
    const dispatch = conn.route(createDispatcher(handlers, localApp));
    const listed = async () => {
      const reply = await dispatch('adapters.list', { kinds: ['adapter'] });
      expect(reply.ok).toBe(true);
      return (reply as { result: { entries: { id: string }[] } }).result.entries.map((e) => e.id);
    };
    expect(await listed()).toEqual([]);

    const status = await conn.connect(`${url}/`, server.token);
    expect(status).toEqual({ connected: true, url, label: `127.0.0.1:${server.port}`, error: null });
    const settingsPath = join(localHome, SETTINGS_FILE);
    expect(JSON.parse(readFileSync(settingsPath, 'utf8')).remote).toEqual({ url, token: server.token, connected: true });
    expect(statSync(settingsPath).mode & 0o777).toBe(0o600);
    expect(await listed()).toEqual([adapterId]);

    // The remote's events arrive on the local bus (the window's progress curves).
    const seen: unknown[] = [];
    const off = localApp.events.subscribe((name, payload) => name === 'log' && seen.push(payload));
    remoteApp.events.emit('log', { level: 'info', message: 'from the remote', time: new Date().toISOString() });
    await expect.poll(() => seen.length).toBe(1);
    off();

    // remote.status is answered here, not by the remote (which is not connected anywhere).
    const local = await dispatch('remote.status', {});
    expect(local).toMatchObject({ ok: true, result: { connected: true } });

    // A new app session resumes the saved connection on its first call.
    const resumed = new RemoteConnection(localHome, localApp.events);
    expect(resumed.status().connected).toBe(true);
    expect((await resumed.invoke('adapters.list', { kinds: ['adapter'] })).ok).toBe(true);
    resumed.close();

    expect(await conn.disconnect()).toEqual({ connected: false, url, label: null, error: null });
    expect(JSON.parse(readFileSync(settingsPath, 'utf8')).remote).toEqual({ url, token: null, connected: false });
    expect(await listed()).toEqual([]);
  });

  it('remote.connect is for the desktop app; adapters.pull without url/token needs a connection', async () => {
    const dispatch = createDispatcher(handlers, localApp);
    const connect = await dispatch('remote.connect', { url, token: server.token });
    expect(connect).toMatchObject({ ok: false, error: { code: 'unsupported' } });
    const pull = await dispatch('adapters.pull', { adapterId });
    expect(pull).toMatchObject({ ok: false, error: { code: 'invalid_argument' } });
    expect((pull as { error: { message: string } }).error.message).toMatch(/not connected to a remote PrefixLab server/);
    const half = await dispatch('adapters.pull', { adapterId, url });
    expect(half).toMatchObject({ ok: false, error: { code: 'invalid_argument' } });
  });

  it('adapters.pull with no url/token pulls from the connected remote', async () => {
    const conn = remoteConnectionFor(localApp);
    await conn.connect(url, server.token);
    try {
      // Through the routed dispatcher, as the desktop window calls it: answered locally, fetched from the remote.
      const reply = await conn.route(createDispatcher(handlers, localApp))('adapters.pull', { adapterId });
      expect(reply).toMatchObject({ ok: true, result: { id: adapterId, status: 'pulled' } });
      expect(readFileSync(join(localHome, 'adapters', adapterId, 'adapter.safetensors')).equals(readFileSync(join(remoteHome, 'adapters', adapterId, 'adapter.safetensors')))).toBe(
        true,
      );
    } finally {
      await conn.disconnect();
    }
  });
});
