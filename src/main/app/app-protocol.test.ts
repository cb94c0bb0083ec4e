// The app:// handler the Electron window loads the renderer through: only files under the renderer folder
// (no "..", no encoded "..", no symlink out), the right type, and CSP + nosniff on every response.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_CSP, APP_URL, createAppProtocolHandler } from './app-protocol';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-app-protocol-'));
const renderer = join(tmp, 'renderer');
const outside = join(tmp, 'outside');
mkdirSync(join(renderer, 'assets'), { recursive: true });
mkdirSync(outside);
writeFileSync(join(renderer, 'index.html'), '<div id="app"></div>');
writeFileSync(join(renderer, 'assets/index-abc.js'), 'console.log(1)');
writeFileSync(join(renderer, 'assets/index-abc.css'), 'body{}');
writeFileSync(join(outside, 'secret.txt'), 'SECRET');
symlinkSync(join(outside, 'secret.txt'), join(renderer, 'assets/link.js'));
symlinkSync(outside, join(renderer, 'linked-dir'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const handle = createAppProtocolHandler(renderer);
const get = (url: string, method = 'GET') => handle(new Request(url, { method }));

function expectSecurityHeaders(res: Response, what: string): void {
  expect(res.headers.get('content-security-policy'), what).toBe(APP_CSP);
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
}

describe('app:// protocol', () => {
  it('serves the page and its assets with their types and the security headers', async () => {
    const page = await get(APP_URL);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<div id="app"></div>');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expectSecurityHeaders(page, 'index');
    const js = await get('app://prefixlab/assets/index-abc.js?v=1#x');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toBe('console.log(1)');
    expect((await get('app://prefixlab/assets/index-abc.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await get('app://prefixlab/')).status).toBe(200);
    const head = await get(APP_URL, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('20');
  });

  it('never leaves the renderer folder, by path or by symlink, and says so with the headers on', async () => {
    const attempts: [string, number][] = [
      ['app://prefixlab/assets/..%2f..%2foutside%2fsecret.txt', 403],
      ['app://prefixlab/%2e%2e%2f%2e%2e%2fetc%2fpasswd', 403],
      ['app://prefixlab/..%5c..%5coutside%5csecret.txt', 404],
      ['app://prefixlab/assets/link.js', 403],
      ['app://prefixlab/linked-dir/secret.txt', 403],
      ['app://prefixlab/index.html%00.js', 403],
      ['app://prefixlab/%E0%A4%A', 403],
      ['app://prefixlab/missing.js', 404],
      ['app://prefixlab/assets', 404],
      ['app://other-host/index.html', 404],
    ];
    for (const [url, status] of attempts) {
      const res = await get(url);
      expect(res.status, url).toBe(status);
      expect(await res.text(), url).not.toContain('SECRET');
      expectSecurityHeaders(res, url);
    }
    const post = await get(APP_URL, 'POST');
    expect(post.status).toBe(405);
    expectSecurityHeaders(post, 'POST');
  });

  it('lets the page connect only to its own origin (the window talks over IPC)', () => {
    expect(APP_CSP).toContain("connect-src 'self';");
    expect(APP_CSP).not.toMatch(/ws:|wss:|http:|\*/);
    expect(APP_CSP).toContain("script-src 'self';");
    expect(APP_CSP).toContain("frame-ancestors 'none'");
  });
});
