// Serve mode refuses requests without the token, foreign WebSocket origins and path traversal, and
// answers real calls over WebSocket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import WebSocket from 'ws';
import { startServer, type RunningServer } from './http-server';
import { createDispatcher } from '../rpc/dispatch';
import { handlers } from '../handlers';
import { createAppContext } from '../app/context';
import { isAllowedOrigin, tokensEqual } from './auth';

let server: RunningServer;
const rendererDir = mkdtempSync(join(tmpdir(), 'prefixlab-renderer-'));

beforeAll(async () => {
  mkdirSync(join(rendererDir, 'assets'));
  writeFileSync(join(rendererDir, 'index.html'), '<div id="app"></div>');
  writeFileSync(join(rendererDir, 'assets/app.js'), 'console.log(1)');
  const app = createAppContext({ home: mkdtempSync(join(tmpdir(), 'prefixlab-home-')), shell: 'headless' });
  server = await startServer({ host: '127.0.0.1', port: 0, rendererDir, dispatch: createDispatcher(handlers, app), events: app.events });
});
afterAll(() => server.close());

/** Raw GET so the path reaches the server unnormalised (fetch would collapse "../"). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

function connect(query: string, origin?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/rpc${query}`, origin ? { origin } : {});
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function call(ws: WebSocket, name: string, req: unknown): Promise<{ ok: boolean; result?: { backend: string }; error?: { code: string; field?: string } }> {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 1e9);
    ws.on('message', function onMessage(data) {
      const msg = JSON.parse(String(data));
      if (msg.id === id) {
        ws.off('message', onMessage);
        resolve(msg);
      }
    });
    ws.send(JSON.stringify({ id, call: name, request: req }));
  });
}

describe('prefixlab serve', () => {
  it('binds to loopback and prints a tokenised URL', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/);
  });

  it('refuses HTTP requests without the right token with 401', async () => {
    expect(await rawGet('/')).toBe(401);
    expect(await rawGet('/?token=wrong')).toBe(401);
    expect(await rawGet(`/?token=${server.token}`)).toBe(200);
    expect(await rawGet('/assets/app.js', { Cookie: `prefixlab_token=${server.token}` })).toBe(200);
  });

  it('refuses path traversal out of the renderer folder', async () => {
    for (const path of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2fetc%2fpasswd', '/%00']) {
      expect(await rawGet(`${path}${path.includes('?') ? '&' : '?'}token=${server.token}`)).toBeGreaterThanOrEqual(403);
    }
  });

  it('answers calls over WebSocket with the token, validates arguments', async () => {
    const ws = await connect(`?token=${server.token}`);
    const info = await call(ws, 'system.info', {});
    expect(info.ok).toBe(true);
    expect(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).toContain(info.result!.backend);
    const bad = await call(ws, 'system.setBackend', { backend: 42 });
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatchObject({ code: 'invalid_argument', field: 'backend' });
    ws.close();
  });

  it('refuses WebSocket upgrades without the token or from a foreign Origin', async () => {
    await expect(connect('')).rejects.toThrow(/401/);
    await expect(connect(`?token=${server.token}`, 'http://evil.example')).rejects.toThrow(/403/);
    const sameOrigin = await connect(`?token=${server.token}`, `http://127.0.0.1:${server.port}`);
    sameOrigin.close();
  });
});

describe('auth helpers', () => {
  it('compares tokens exactly', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abd', 'abc')).toBe(false);
    expect(tokensEqual('ab', 'abc')).toBe(false);
    expect(tokensEqual(undefined, 'abc')).toBe(false);
  });

  it('allows only the server’s own loopback origin', () => {
    const bound = { host: '127.0.0.1', port: 5 };
    expect(isAllowedOrigin(undefined, bound)).toBe(true);
    expect(isAllowedOrigin('http://127.0.0.1:5', bound)).toBe(true);
    expect(isAllowedOrigin('http://localhost:5', bound)).toBe(true);
    expect(isAllowedOrigin('http://127.0.0.1:6', bound)).toBe(false);
    expect(isAllowedOrigin('https://evil.example', bound)).toBe(false);
    expect(isAllowedOrigin('null', bound)).toBe(false);
  });
});
