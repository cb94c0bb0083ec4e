// Attacks on a real `prefixlab serve` (the built CLI): missing and wrong tokens, foreign Origins, DNS rebinding
// (a foreign Host header), path traversal, methods other than GET, oversized and flooding WebSocket messages,
// messages that used to end the process, more connections than the cap, non-loopback hosts, client paths
// outside the served roots, and symlinks leading out of them. Every one must be refused, every refusal carries
// the CSP and nosniff headers, and the server must keep answering afterwards.
import { chromium, expect, test } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { chromiumExecutable, repoRoot, rootArgs, startServe, stopServe, type ServeHandle } from './serve-fixture';

const SECRET = 'not for the browser: 7c1f';
/** A folder outside every root, holding a secret dataset and a model; and the served root, with links out. */
let outside: string;
let served: string;
let serve: ServeHandle;
test.beforeAll(async () => {
  outside = mkdtempSync(join(tmpdir(), 'prefixlab-outside-'));
  served = mkdtempSync(join(tmpdir(), 'prefixlab-served-'));
  writeFileSync(join(outside, 'secret.jsonl'), `{"text":"${SECRET}","label":1}\n`);
  mkdirSync(join(outside, 'model'));
  writeFileSync(join(outside, 'model', 'config.json'), '{"model_type":"llama"}');
  writeFileSync(join(served, 'ok.jsonl'), '{"text":"fine","label":1}\n{"text":"also fine","label":0}\n');
  symlinkSync(join(outside, 'secret.jsonl'), join(served, 'link-to-secret.jsonl'));
  symlinkSync(outside, join(served, 'link-to-outside'));
  symlinkSync(join(outside, 'model'), join(served, 'link-to-model'));
  serve = await startServe(rootArgs(served));
});
test.afterAll(() => {
  stopServe(serve);
  rmSync(outside, { recursive: true, force: true });
  rmSync(served, { recursive: true, force: true });
});

/** A raw request, so the path (and a Host header) reach the server as written (fetch would normalise "../"). */
function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: serve.port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connect(query: string, origin?: string, host?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${serve.port}/rpc${query}`, { ...(origin ? { origin } : {}), ...(host ? { headers: { Host: host } } : {}) });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

type Reply = { id: unknown; ok: boolean; result?: unknown; error?: { code: string; message: string; field?: string } };

/** Sends raw frames and collects `count` replies (calls answer in any order). */
function exchange(ws: WebSocket, frames: (string | Buffer)[], count = frames.length, timeoutMs = 20_000): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${replies.length}/${count} replies`)), timeoutMs);
    const onMessage = (data: WebSocket.RawData): void => {
      const msg = JSON.parse(String(data)) as Reply & { event?: string };
      if (msg.event) return;
      replies.push(msg);
      if (replies.length === count) {
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(replies);
      }
    };
    ws.on('message', onMessage);
    for (const f of frames) ws.send(f);
  });
}

async function call(name: string, req: unknown): Promise<Reply> {
  const ws = await connect(`?token=${serve.token}`);
  try {
    return (await exchange(ws, [JSON.stringify({ id: 1, call: name, request: req })]))[0];
  } finally {
    ws.close();
  }
}

async function stillServing(): Promise<void> {
  const info = await call('system.info', {});
  expect(info.ok).toBe(true);
}

test('HTTP without the token, with a wrong one, or in the wrong place is refused with 401', async () => {
  const wrongSameLength = serve.token.replace(/.$/, (c) => (c === 'a' ? 'b' : 'a'));
  for (const [path, headers] of [
    ['/', {}],
    ['/?token=', {}],
    [`/?token=${wrongSameLength}`, {}],
    [`/?token=${serve.token}x`, {}],
    ['/assets/', { Authorization: `Bearer ${wrongSameLength}` }],
    ['/', { Authorization: `Basic ${Buffer.from(`x:${serve.token}`).toString('base64')}` }],
    ['/', { 'X-Token': serve.token }],
    ['/', { Cookie: `prefixlab_token=${wrongSameLength}` }],
  ] as [string, Record<string, string>][]) {
    const res = await raw('GET', path, headers);
    expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
    expect(res.body).not.toContain('<div id="app">');
  }
  expect((await raw('GET', '/', { Authorization: `Bearer ${serve.token}` })).status).toBe(200);
});

test('methods other than GET/HEAD are refused even with the token', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    expect((await raw(method, `/?token=${serve.token}`)).status, method).toBe(405);
  }
});

test('path traversal never leaves the renderer folder', async () => {
  const variants = [
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/assets/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/%2e%2e%5c%2e%2e%5c%2e%2e%5cetc%5cpasswd',
    '/..%252f..%252f..%252fetc%252fpasswd',
    '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
    '//etc/passwd',
    '/index.html%00.js',
    '/%00',
    '/assets/../../package.json',
    '/assets/%2e%2e/%2e%2e/package.json',
  ];
  for (const path of variants) {
    const res = await raw('GET', `${path}${path.includes('?') ? '&' : '?'}token=${serve.token}`);
    expect(res.status, path).toBeGreaterThanOrEqual(400);
    expect(res.body, path).not.toMatch(/root:.*:0:0:|"name": "prefixlab"/);
  }
});

test('WebSocket upgrades without the token or from a foreign Origin are refused', async () => {
  await expect(connect('')).rejects.toThrow(/401/);
  await expect(connect('?token=wrong')).rejects.toThrow(/401/);
  for (const origin of [
    'http://evil.example',
    `http://evil.example:${serve.port}`,
    `http://127.0.0.1.evil.example:${serve.port}`,
    `http://127.evil.example:${serve.port}`,
    'null',
    `https://127.0.0.1:${serve.port}`,
    `http://localhost:${serve.port + 1}`,
  ]) {
    await expect(connect(`?token=${serve.token}`, origin), origin).rejects.toThrow(/403/);
  }
  const ok = await connect(`?token=${serve.token}`, `http://127.0.0.1:${serve.port}`);
  ok.close();
});

test('a foreign Host header is refused even with the token (DNS rebinding); the loopback names are served', async () => {
  const p = serve.port;
  for (const host of [`evil.com:${p}`, `127.0.0.1.evil.com:${p}`, `localhost.evil.com:${p}`, `127.0.0.1:${p + 1}`]) {
    const res = await raw('GET', `/?token=${serve.token}`, { Host: host });
    expect(res.status, host).toBe(421);
    expect(res.body, host).not.toContain('<div id="app">');
  }
  for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`]) {
    const res = await raw('GET', `/?token=${serve.token}`, { Host: host });
    expect(res.status, host).toBe(200);
    expect(res.body, host).toContain('<div id="app">');
  }
});

test('a WebSocket whose Origin equals its foreign Host is refused', async () => {
  const p = serve.port;
  // What a rebound page sends: both name the attacker's host. The Origin check used to accept Origin == Host.
  await expect(connect(`?token=${serve.token}`, `http://evil.com:${p}`, `evil.com:${p}`)).rejects.toThrow(/421/);
  await expect(connect(`?token=${serve.token}`, `http://evil.com:${p}`, `127.0.0.1:${p}`)).rejects.toThrow(/403/);
  const ok = await connect(`?token=${serve.token}`, `http://localhost:${p}`, `localhost:${p}`);
  ok.close();
  await stillServing();
});

test('every response, refusals included, carries the CSP and nosniff', async () => {
  const t = `token=${serve.token}`;
  for (const [method, path, headers, status] of [
    ['GET', `/?${t}`, {}, 200],
    ['GET', '/', {}, 401],
    ['GET', `/assets/..%2f..%2f..%2fpackage.json?${t}`, {}, 403],
    ['GET', `/no-such-file.js?${t}`, {}, 404],
    ['POST', `/?${t}`, {}, 405],
    ['GET', `/?${t}`, { Host: 'evil.com' }, 421],
  ] as [string, string, Record<string, string>, number][]) {
    const res = await raw(method, path, headers);
    expect(res.status, `${method} ${path}`).toBe(status);
    expect(res.headers['x-content-type-options'], `${status}`).toBe('nosniff');
    expect(res.headers['content-security-policy'], `${status}`).toMatch(/^default-src 'self'; script-src 'self';.*; frame-ancestors 'none'$/);
  }
  // connect-src: 'self' and this server's own WebSocket origin, no wildcard.
  const page = await raw('GET', `/?${t}`);
  expect(page.headers['content-security-policy']).toContain(`connect-src 'self' ws://127.0.0.1:${serve.port};`);
  expect(page.headers['content-security-policy']).not.toContain('*');
  // The built page's <meta> tag is the same policy (less frame-ancestors, which a <meta> cannot carry).
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(page.body)?.[1]?.replaceAll('&#39;', "'");
  expect(meta).toBe(
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'",
  );
});

test('the page loads in Chromium and reaches the API under that CSP', async () => {
  const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    await page.goto(serve.url);
    await expect(page.getByTestId('status-backend')).toContainText('Backend:');
    expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
  } finally {
    await browser.close();
  }
});

test('connections beyond the cap (64) are dropped, and the server answers once they close', async () => {
  const CAP = 64; // MAX_CONNECTIONS in src/main/server/http-server.ts
  const sockets = await Promise.all(
    Array.from(
      { length: CAP + 8 },
      () =>
        new Promise<Socket>((resolve) => {
          const s = tcpConnect(serve.port, '127.0.0.1', () => resolve(s));
          s.on('error', () => resolve(s));
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 500));
  const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open');
  expect(open.length).toBeLessThanOrEqual(CAP);
  expect(sockets.length - open.length).toBeGreaterThanOrEqual(8);
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 300));
  await stillServing();
});

test('a message over the 4 MiB limit closes the socket (1009) and the server carries on', async () => {
  const ws = await connect(`?token=${serve.token}`);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => undefined);
  ws.send(JSON.stringify({ id: 1, call: 'system.info', request: { pad: 'x'.repeat(5 * 2 ** 20) } }));
  expect(await closed).toBe(1009);
  await stillServing();
});

test('a flood of calls or of garbage is rate-limited, and the server stays responsive', async () => {
  const ws = await connect(`?token=${serve.token}`);
  const calls = Array.from({ length: 600 }, (_, id) => JSON.stringify({ id, call: 'system.setBackend', request: { backend: 42 } }));
  const replies = await exchange(ws, calls);
  expect(replies.filter((r) => r.error?.code === 'rate_limited').length).toBeGreaterThan(0);
  expect(replies.every((r) => r.ok === false)).toBe(true);
  const garbage = await exchange(
    ws,
    Array.from({ length: 600 }, () => '{not json'),
  );
  expect(garbage.some((r) => r.error?.code === 'rate_limited')).toBe(true);
  ws.close();
  await stillServing();
});

test('messages that are valid JSON but not calls get an error reply, never a dead server', async () => {
  const ws = await connect(`?token=${serve.token}`);
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const frames = [
    'null',
    '5',
    '"call"',
    '[]',
    '{}',
    '{"id":{"a":1},"call":42}',
    `{"id":1,"call":"system.setBackend","request":${deep}}`,
    '{"id":2,"call":"__proto__"}',
    '{"id":3,"call":"constructor","request":{}}',
  ];
  const replies = await exchange(ws, frames);
  expect(replies.every((r) => r.ok === false && typeof r.error?.message === 'string')).toBe(true);
  expect(replies.map((r) => r.error!.code)).not.toContain('internal');
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  await closed;
  await stillServing();
});

test('file paths outside the served folders are refused by every call that takes one', async () => {
  const attempts: [string, unknown, string][] = [
    ['models.inspect', { path: '/etc' }, 'path'],
    ['models.inspect', { path: join(outside, 'model') }, 'path'],
    ['models.import', { path: join(served, '..', outside.split('/').pop()!, 'model') }, 'path'],
    ['datasets.inspect', { file: '/etc/passwd' }, 'file'],
    ['datasets.inspect', { file: join(outside, 'secret.jsonl') }, 'file'],
    ['datasets.preview', { file: `${served}/../${outside.split('/').pop()}/secret.jsonl` }, 'file'],
    ['datasets.import', { file: join(outside, 'secret.jsonl') }, 'file'],
    ['datasets.inspect', { file: join(served, 'ok.jsonl'), evalFile: join(outside, 'secret.jsonl') }, 'evalFile'],
    ['datasets.inspect', { file: join(served, 'ok.jsonl'), split: { method: 'file', file: '/etc/passwd' } }, 'split.file'],
    ['files.list', { path: '/' }, 'path'],
    ['files.list', { path: outside }, 'path'],
    ['adapters.export', { id: 'nope', format: 'peft', outDir: join(outside, 'export') }, 'outDir'],
  ];
  for (const [name, req, field] of attempts) {
    const reply = await call(name, req);
    expect(reply.ok, `${name} ${JSON.stringify(req)}`).toBe(false);
    expect(['forbidden', 'not_found', 'invalid_argument'], `${name}: ${reply.error?.code} ${reply.error?.message}`).toContain(reply.error!.code);
    if (reply.error!.code === 'forbidden') expect(reply.error!.field).toBe(field);
    expect(JSON.stringify(reply)).not.toContain(SECRET);
  }
  for (const relative of ['etc/passwd', '../secret.jsonl', '']) {
    const reply = await call('datasets.inspect', { file: relative });
    expect(reply.error?.code).toBe('invalid_argument');
  }
  const inside = await call('datasets.inspect', { file: join(served, 'ok.jsonl') });
  expect(inside.ok).toBe(true);
});

test('symlinks leading out of a served folder are hidden and refused', async () => {
  const listing = (await call('files.list', { path: served })) as Reply & { result: { entries: { name: string }[] } };
  expect(listing.ok).toBe(true);
  const names = listing.result.entries.map((e) => e.name);
  expect(names).toContain('ok.jsonl');
  expect(names).not.toContain('link-to-secret.jsonl');
  expect(names).not.toContain('link-to-outside');
  for (const [name, req] of [
    ['datasets.inspect', { file: join(served, 'link-to-secret.jsonl') }],
    ['datasets.inspect', { file: join(served, 'link-to-outside', 'secret.jsonl') }],
    ['files.list', { path: join(served, 'link-to-outside') }],
    ['models.inspect', { path: join(served, 'link-to-model') }],
  ] as [string, unknown][]) {
    const reply = await call(name, req);
    expect(reply.error?.code, `${name} ${JSON.stringify(req)}`).toBe('forbidden');
    expect(JSON.stringify(reply)).not.toContain(SECRET);
  }
});

test('an uploaded file name cannot climb out of the uploads folder', async () => {
  const reply = (await call('files.upload', {
    name: '../../../../tmp/evil.sh',
    offset: 0,
    chunkBase64: Buffer.from('echo hi').toString('base64'),
    totalBytes: 7,
    isLast: true,
  })) as Reply & { result: { path: string } };
  expect(reply.ok).toBe(true);
  expect(reply.result.path.startsWith(join(serve.home, 'uploads'))).toBe(true);
  expect(reply.result.path.endsWith('evil.sh')).toBe(true);
});

/** `prefixlab serve` with these arguments: exit code (null while still running), stdout's first line, stderr. */
function serveWith(args: string[]): Promise<{ code: number | null; firstLine: string; stderr: string; stop: () => void }> {
  const home = mkdtempSync(join(tmpdir(), 'prefixlab-host-'));
  const child = spawn(process.execPath, [join(repoRoot, 'bin/prefixlab.js'), 'serve', '--port', '0', '--json', '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += String(c)));
  const stop = (): void => {
    child.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  };
  return new Promise((resolve) => {
    createInterface({ input: child.stdout }).once('line', (firstLine) => setTimeout(() => resolve({ code: null, firstLine, stderr, stop }), 200));
    child.once('exit', (code) => resolve({ code, firstLine: '', stderr, stop }));
  });
}

test('a non-loopback --host is refused without --allow-remote, and warned about with it', async () => {
  for (const host of ['0.0.0.0', '::', '127.evil.example']) {
    const refused = await serveWith(['--host', host]);
    expect(refused.code, host).not.toBe(0);
    expect(refused.code, host).not.toBeNull();
    expect(refused.stderr).toMatch(/--allow-remote/);
    refused.stop();
  }
  const allowed = await serveWith(['--host', '0.0.0.0', '--allow-remote']);
  try {
    expect(allowed.code).toBeNull();
    expect(allowed.stderr).toMatch(/warning: serving on 0\.0\.0\.0, reachable from other machines/);
    const { port } = JSON.parse(allowed.firstLine) as { port: number };
    const res = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(res).toBe(401); // still token-protected
  } finally {
    allowed.stop();
  }
});
