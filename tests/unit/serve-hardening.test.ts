// Regressions found by fuzzing and the serve attacks (tests/e2e/serve-attacks.spec.ts runs them against the
// built CLI): a > 4 MiB frame, a "null" message and a 10^5-deep message each used to end `prefixlab serve`;
// garbage frames were not rate-limited; "127.evil.example" counted as loopback. Then DNS rebinding: the Host
// header was never checked and an Origin equal to the Host passed, so a rebound name was stopped by the token
// alone; 403/404 went out without CSP or nosniff; connections were not capped.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAppContext } from '../../src/main/app/context';
import { handlers } from '../../src/main/handlers';
import { createDispatcher } from '../../src/main/rpc/dispatch';
import { isAllowedHost, isAllowedOrigin, isLoopbackHost } from '../../src/main/server/auth';
import { startServer, type RunningServer, type ServerOptions } from '../../src/main/server/http-server';

let server: RunningServer;
const home = mkdtempSync(join(tmpdir(), 'prefixlab-serve-hard-'));
const rendererDir = join(home, 'renderer');
const app = createAppContext({ home, shell: 'headless' });
const serverOptions: ServerOptions = { host: '127.0.0.1', port: 0, rendererDir, dispatch: createDispatcher(handlers, app), events: app.events };
beforeAll(async () => {
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<div id="app"></div>');
  server = await startServer(serverOptions);
});
afterAll(async () => {
  await server.close();
  rmSync(home, { recursive: true, force: true });
});

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/rpc?token=${server.token}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function replies(ws: WebSocket, frames: string[]): Promise<{ ok: boolean; error?: { code: string } }[]> {
  return new Promise((resolve) => {
    const out: { ok: boolean; error?: { code: string } }[] = [];
    ws.on('message', (d) => {
      out.push(JSON.parse(String(d)));
      if (out.length === frames.length) resolve(out);
    });
    for (const f of frames) ws.send(f);
  });
}

async function alive(): Promise<boolean> {
  const ws = await open();
  const [r] = await replies(ws, [JSON.stringify({ id: 1, call: 'system.info', request: {} })]);
  ws.close();
  return r.ok;
}

describe('serve mode survives hostile clients', () => {
  it('a frame over maxPayload closes that socket with 1009, not the server', async () => {
    const ws = await open();
    ws.on('error', () => undefined);
    const code = await new Promise<number>((resolve) => {
      ws.once('close', (c) => resolve(c));
      ws.send('x'.repeat(5 * 2 ** 20));
    });
    expect(code).toBe(1009);
    expect(await alive()).toBe(true);
  });

  it('JSON that is not an object, or nested 10^5 deep, gets an error reply', async () => {
    const ws = await open();
    const deep = `{"id":7,"call":"system.setBackend","request":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const out = await replies(ws, ['null', '7', '[]', deep]);
    expect(out.map((r) => r.error?.code)).toEqual(['invalid_argument', 'invalid_argument', 'invalid_argument', 'invalid_argument']);
    ws.close();
    expect(await alive()).toBe(true);
  });

  it('garbage frames count towards the rate limit', async () => {
    const ws = await open();
    const out = await replies(
      ws,
      Array.from({ length: 400 }, () => 'not json'),
    );
    expect(out.filter((r) => r.error?.code === 'rate_limited').length).toBeGreaterThan(100);
    ws.close();
  });

  it('only dotted-quad 127/8, ::1 and localhost are loopback', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('127.evil.example')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.evil.example')).toBe(false);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isAllowedOrigin('http://127.evil.example:5', { host: '127.0.0.1', port: 5 })).toBe(false);
  });
});

type Raw = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** A raw GET with the Host header as given (fetch would set its own). */
function get(path: string, headers: Record<string, string> = {}, port = server.port): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket upgrade with the Host and Origin given; resolves to the HTTP status (101 when it opened). */
function upgrade(host: string, origin?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/rpc?token=${server.token}`, { headers: { Host: host }, ...(origin ? { origin } : {}) });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, headers: {} });
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    ws.once('error', reject);
  });
}

describe('serve mode answers only to its own name (DNS rebinding)', () => {
  it('refuses a foreign Host header even with the token, and accepts the loopback names', async () => {
    const p = server.port;
    for (const host of [
      `evil.com:${p}`,
      `127.0.0.1.evil.com:${p}`,
      `127.evil.com:${p}`,
      `localhost.evil.com:${p}`,
      `127.0.0.1:${p + 1}`,
      `127.0.0.1:${p}@evil.com`,
      `127.0.0.1:${p}/x`,
    ]) {
      const res = await get(`/?token=${server.token}`, { Host: host });
      expect(res.status, host).toBe(421);
      expect(res.body, host).not.toContain('<div id="app">');
    }
    // HTTP/1.0 allows no Host header at all: that names nobody, so it is refused too.
    const noHost = await new Promise<string>((resolve, reject) => {
      let text = '';
      const s = connect(p, '127.0.0.1', () => s.end(`GET /?token=${server.token} HTTP/1.0\r\n\r\n`));
      s.on('data', (c) => (text += String(c)));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(noHost).toMatch(/^HTTP\/1\.1 421 /);
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, `[::1]:${p}`]) {
      const res = await get(`/?token=${server.token}`, { Host: host });
      expect(res.status, host).toBe(200);
      expect(res.body).toContain('<div id="app">');
    }
  });

  it('refuses a WebSocket whose Origin equals a foreign Host', async () => {
    const p = server.port;
    expect((await upgrade(`evil.com:${p}`, `http://evil.com:${p}`)).status).toBe(421);
    // A loopback Host does not make a foreign Origin acceptable either.
    expect((await upgrade(`127.0.0.1:${p}`, `http://evil.com:${p}`)).status).toBe(403);
    expect((await upgrade(`localhost:${p}`, `http://localhost:${p}`)).status).toBe(101);
    expect((await upgrade(`127.0.0.1:${p}`)).status).toBe(101);
  });

  it('holds Host and Origin to the loopback names, the --host given and the bound port', () => {
    const loop = { host: '127.0.0.1', port: 7860 };
    expect(isAllowedHost('127.0.0.1:7860', loop)).toBe(true);
    expect(isAllowedHost('localhost:7860', loop)).toBe(true);
    expect(isAllowedHost('[::1]:7860', loop)).toBe(true);
    expect(isAllowedHost('evil.com:7860', loop)).toBe(false);
    expect(isAllowedHost('127.0.0.1', loop)).toBe(false); // port 80
    expect(isAllowedHost(undefined, loop)).toBe(false);
    expect(isAllowedHost('10.0.0.5:7860', loop)).toBe(false);
    expect(isAllowedOrigin('http://evil.com:7860', loop)).toBe(false);
    // Another --host: its own address too; on a wildcard (--allow-remote) any IP literal, never a name.
    expect(isAllowedHost('10.0.0.5:7860', { host: '10.0.0.5', port: 7860 })).toBe(true);
    expect(isAllowedHost('[fe80::1]:7860', { host: 'fe80::1', port: 7860 })).toBe(true);
    expect(isAllowedHost('192.168.1.9:7860', { host: '0.0.0.0', port: 7860 })).toBe(true);
    expect(isAllowedHost('[2001:db8::1]:7860', { host: '::', port: 7860 })).toBe(true);
    expect(isAllowedHost('evil.com:7860', { host: '0.0.0.0', port: 7860 })).toBe(false);
    expect(isAllowedOrigin('http://192.168.1.9:7860', { host: '0.0.0.0', port: 7860 })).toBe(true);
    expect(isAllowedOrigin('http://rebind.evil.com:7860', { host: '0.0.0.0', port: 7860 })).toBe(false);
  });
});

describe('every serve response carries CSP and nosniff', () => {
  const expectHeaders = (headers: Record<string, string | string[] | undefined>, what: string): void => {
    expect(headers['x-content-type-options'], what).toBe('nosniff');
    expect(String(headers['content-security-policy']), what).toMatch(/default-src 'self'; script-src 'self'.*frame-ancestors 'none'/);
  };

  it('on 200, 401, 403, 404, 405 and 421', async () => {
    const t = `token=${server.token}`;
    const cases: [string, Record<string, string>, number][] = [
      [`/?${t}`, {}, 200],
      ['/', {}, 401],
      [`/assets/..%2f..%2f..%2fetc%2fpasswd?${t}`, {}, 403],
      [`/missing.js?${t}`, {}, 404],
      [`/?${t}`, { Host: 'evil.com' }, 421],
    ];
    for (const [path, headers, status] of cases) {
      const res = await get(path, headers);
      expect(res.status, path).toBe(status);
      expectHeaders(res.headers, `${status} ${path}`);
    }
    const post = await new Promise<Raw>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: `/?${t}`, method: 'POST', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(post.status).toBe(405);
    expectHeaders(post.headers, '405');
  });

  it('on refused WebSocket upgrades', async () => {
    const refused = await upgrade(`127.0.0.1:${server.port}`, 'http://evil.example');
    expect(refused.status).toBe(403);
    expectHeaders(refused.headers, 'upgrade 403');
  });

  it("connect-src is 'self' plus the WebSocket origin the page was reached at, never a wildcard", async () => {
    const p = server.port;
    const viaIp = await get(`/?token=${server.token}`, { Host: `127.0.0.1:${p}` });
    expect(viaIp.headers['content-security-policy']).toContain(`connect-src 'self' ws://127.0.0.1:${p};`);
    const viaName = await get(`/?token=${server.token}`, { Host: `localhost:${p}` });
    expect(viaName.headers['content-security-policy']).toContain(`connect-src 'self' ws://localhost:${p};`);
    expect(String(viaIp.headers['content-security-policy'])).not.toContain('*');
  });
});

describe('serve mode caps its connections', () => {
  const openSocket = (port: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  /** Whether the server closes this socket within `ms` (a dropped connection closes at once). */
  const closedWithin = (s: Socket, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (s.destroyed) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      s.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      s.on('error', () => undefined);
    });

  it('drops connections beyond the cap, and answers again once they close', async () => {
    const capped = await startServer({ ...serverOptions, maxConnections: 4, idleTimeoutMs: 60_000 });
    try {
      const held = await Promise.all(Array.from({ length: 4 }, () => openSocket(capped.port)));
      const extra = await openSocket(capped.port);
      expect(await closedWithin(extra, 2_000)).toBe(true);
      // The held ones are still open: the cap refuses only beyond it.
      expect(await Promise.all(held.map((s) => closedWithin(s, 200)))).toEqual([false, false, false, false]);
      await expect(get(`/?token=${capped.token}`, {}, capped.port)).rejects.toThrow();
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect((await get(`/?token=${capped.token}`, {}, capped.port)).status).toBe(200);
    } finally {
      await capped.close();
    }
  });

  it('closes a connection that stays silent, freeing its slot; an open /rpc socket may idle', async () => {
    const capped = await startServer({ ...serverOptions, maxConnections: 4, idleTimeoutMs: 500 });
    try {
      const ws = await new Promise<WebSocket>((resolve, reject) => {
        const w = new WebSocket(`ws://127.0.0.1:${capped.port}/rpc?token=${capped.token}`);
        w.once('open', () => resolve(w));
        w.once('error', reject);
      });
      const silent = await openSocket(capped.port);
      expect(await closedWithin(silent, 3_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 700));
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.close();
    } finally {
      await capped.close();
    }
  });
});
