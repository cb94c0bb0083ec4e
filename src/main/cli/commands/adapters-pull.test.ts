// `prefixlab adapters pull ID --from URL`: from a `serve` over loopback into another home, token from
// PREFIXLAB_REMOTE_TOKEN or --token and never printed; the pulled adapter is then listed and shown by the
// local `adapters show`. A bad token, a missing --from and plain remote http are one stderr line each.
import { mkdtempSync, readdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppContext } from '../../app/context';
import { handlers } from '../../handlers';
import { saveAdapter } from '../../registry/adapter-store';
import { createDispatcher } from '../../rpc/dispatch';
import { startServer, type RunningServer } from '../../server/http-server';
import { lookupAdapterFile } from '../../services/remote/adapter-files';
import { cli } from '../cli-harness';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-cli-pull-'));
const remoteHome = join(tmp, 'remote');
const localHome = join(tmp, 'local');
let server: RunningServer;
let url: string;
let id: string;

beforeAll(async () => {
  writeFileSync(join(tmp, 'index.html'), '<div id="app"></div>');
  id = (
    await saveAdapter(remoteHome, {
      name: 'from the gpu box',
      method: 'lora',
      options: {},
      state: { 'w.lora_A': { shape: [3], data: new Float32Array([1, 2, 3]) } },
      baseModel: { path: remoteHome, architecture: 'llama', files: [] },
      backend: 'cpu',
    })
  ).id;
  const app = createAppContext({ home: remoteHome, shell: 'headless' });
  server = await startServer({
    host: '127.0.0.1',
    port: 0,
    rendererDir: tmp,
    dispatch: createDispatcher(handlers, app),
    events: app.events,
    adapterFiles: (id, file) => lookupAdapterFile(remoteHome, id, file),
  });
  url = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.close();
  delete process.env.PREFIXLAB_REMOTE_TOKEN;
  rmSync(tmp, { recursive: true, force: true });
});

const pulledIds = () => (existsSync(join(localHome, 'adapters')) ? readdirSync(join(localHome, 'adapters')) : []);

describe('prefixlab adapters pull', () => {
  it('refuses a bad token, a missing --from and plain remote http in one line each, writing nothing', async () => {
    const bad = await cli(['adapters', 'pull', id, '--from', url, '--token', 'wrong', '--home', localHome]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^prefixlab: adapters pull: .*refused the token \(401\)/)]);
    const noFrom = await cli(['adapters', 'pull', id, '--token', server.token, '--home', localHome]);
    expect(noFrom.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--from https:\/\/HOST/)]);
    const plain = await cli(['adapters', 'pull', id, '--from', 'http://198.51.100.7:8765', '--token', server.token, '--home', localHome]);
    expect(plain.stderr.trim().split('\n')).toEqual([expect.stringMatching(/use https:\/\/ or wss:\/\/ .*SSH tunnel/)]);
    for (const r of [bad, noFrom, plain]) expect(r.stderr + r.stdout).not.toContain(server.token);
    expect(pulledIds()).toEqual([]);
  });

  it('pulls with the token from the environment; adapters show then works locally', async () => {
    process.env.PREFIXLAB_REMOTE_TOKEN = server.token;
    const pulled = await cli(['adapters', 'pull', id, '--from', url, '--home', localHome, '--json']);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ id, status: 'pulled', method: 'lora', from: `127.0.0.1:${server.port}` });
    expect(pulled.stdout).not.toContain(server.token);
    const shown = await cli(['adapters', 'show', id, '--home', localHome, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ summary: { id, name: 'from the gpu box' } });
    const again = await cli(['adapters', 'pull', id, '--from', url, '--home', localHome]);
    expect(again.stdout).toMatch(/already here \(identical\)/);
  });
});
