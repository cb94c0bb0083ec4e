// Regressions found by fuzzing and the serve attacks (tests/e2e/serve-attacks.spec.ts runs them against the
// built CLI): a > 4 MiB frame, a "null" message and a 10^5-deep message each used to end `prefixlab serve`;
// garbage frames were not rate-limited; "127.evil.example" counted as loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAppContext } from '../../src/main/app/context';
import { handlers } from '../../src/main/handlers';
import { createDispatcher } from '../../src/main/rpc/dispatch';
import { isAllowedOrigin, isLoopbackHost } from '../../src/main/server/auth';
import { startServer, type RunningServer } from '../../src/main/server/http-server';

let server: RunningServer;
const home = mkdtempSync(join(tmpdir(), 'prefixlab-serve-hard-'));
beforeAll(async () => {
  const app = createAppContext({ home, shell: 'headless' });
  server = await startServer({ host: '127.0.0.1', port: 0, rendererDir: home, dispatch: createDispatcher(handlers, app), events: app.events });
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
    const out = await replies(ws, Array.from({ length: 400 }, () => 'not json'));
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
    expect(isAllowedOrigin('http://127.evil.example:5', undefined, 5)).toBe(false);
  });
});
