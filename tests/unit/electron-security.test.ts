// Electron hardening: Electronegativity finds no HIGH/CRITICAL misconfiguration in what ships (and does find
// one in a deliberately bad window, so the check is live); the window's URL policy only lets the app's own
// page load and only https links out; the window loads app://, never file://; the packaged binary gets its
// fuses flipped (checked through electron-builder's own config loader and hook resolver, on a stand-in binary
// with a real fuse wire, as no Electron binary can be downloaded here).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { APP_CSP, APP_URL } from '../../src/main/app/app-protocol';
import { isAppUrl, isSafeExternalUrl } from '../../src/main/app/url-policy';
import { contentSecurityPolicy } from '../../src/main/server/security-headers';

// The Electron glue (window.ts) runs against a recording stand-in for the 'electron' module.
const electron = vi.hoisted(() => {
  const calls = { privileged: [] as unknown[], handlers: new Map<string, (req: Request) => Promise<Response>>(), loaded: [] as string[], headers: [] as unknown[] };
  class BrowserWindow {
    webContents = { on: () => undefined, setWindowOpenHandler: () => undefined };
    once(): void {}
    loadURL(url: string): Promise<void> {
      calls.loaded.push(url);
      return Promise.resolve();
    }
  }
  const session = {
    defaultSession: {
      setPermissionRequestHandler: () => undefined,
      setPermissionCheckHandler: () => undefined,
      setDevicePermissionHandler: () => undefined,
      webRequest: { onHeadersReceived: (fn: unknown) => calls.headers.push(fn) },
    },
  };
  const protocol = {
    registerSchemesAsPrivileged: (schemes: unknown[]) => calls.privileged.push(...schemes),
    handle: (scheme: string, handler: (req: Request) => Promise<Response>) => calls.handlers.set(scheme, handler),
  };
  return { calls, module: { BrowserWindow, session, protocol, shell: { openExternal: () => undefined } } };
});
vi.mock('electron', () => electron.module);

const root = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-eneg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function electronegativity(extra: string[]): {
  status: number | null;
  report: { findings: { id: string; severity: string }[]; parseErrors: string[]; high: number; checks: number };
} {
  const json = join(tmp, `report-${extra.length}.json`);
  const r = spawnSync(process.execPath, [join(root, 'scripts/security-electron.js'), '--json', json, ...extra], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, report: JSON.parse(readFileSync(json, 'utf8')) };
}

describe('Electron security', () => {
  it('electronegativity: no high-severity finding in src/main + src/preload + the renderer page', () => {
    const { status, report } = electronegativity([]);
    expect(report.parseErrors).toEqual([]);
    expect(report.findings.filter((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL')).toEqual([]);
    expect(report.checks).toBeGreaterThan(30);
    expect(status).toBe(0);
  }, 120_000);

  it('electronegativity flags an insecure window (the check is live)', () => {
    const bad = join(tmp, 'bad');
    mkdirSync(bad);
    writeFileSync(
      join(bad, 'main.ts'),
      "import { BrowserWindow } from 'electron';\nexport const win = new BrowserWindow({ webPreferences: { nodeIntegration: true, contextIsolation: false, webSecurity: false } });\nvoid win.loadURL('http://example.com');\n",
    );
    const { status, report } = electronegativity(['--input', bad]);
    expect(status).toBe(1);
    expect(report.findings.map((f) => f.id)).toContain('CONTEXT_ISOLATION_JS_CHECK');
  }, 120_000);

  it('the window may show only the app page, and open only https links outside', () => {
    // app:// (like file://) has an opaque origin, "null" for every such URL: comparing origins let any
    // non-http URL (data:, another scheme) pass as the app page.
    expect(isAppUrl(APP_URL, APP_URL)).toBe(true);
    expect(isAppUrl(`${APP_URL}#/train`, APP_URL)).toBe(true);
    for (const bad of [
      'app://prefixlab/other.html',
      'app://evil/index.html',
      'evil://prefixlab/index.html',
      'data:text/html,<script>1</script>',
      'blob:null/1',
      'file:///index.html',
      'http://prefixlab/index.html',
    ]) {
      expect(isAppUrl(bad, APP_URL), bad).toBe(false);
    }
    const app = pathToFileURL('/opt/PrefixLab/resources/app/out/renderer/index.html').href;
    expect(isAppUrl(app, app)).toBe(true);
    expect(isAppUrl(`${app}#/train`, app)).toBe(true);
    expect(isAppUrl('file:///opt/PrefixLab/resources/app/out/renderer/other.html', app)).toBe(false);
    expect(isAppUrl('file:///home/user/Downloads/evil.html', app)).toBe(false);
    expect(isAppUrl('https://example.com/', app)).toBe(false);
    expect(isAppUrl('http://localhost:5173/#/x', 'http://localhost:5173/')).toBe(true);
    expect(isAppUrl('http://localhost:5173.evil.com/', 'http://localhost:5173/')).toBe(false);
    expect(isAppUrl('not a url', app)).toBe(false);
    expect(isSafeExternalUrl('https://arxiv.org/abs/2506.13674')).toBe(true);
    for (const bad of ['http://example.com', 'file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'https://user:pw@example.com', 'ms-msdt:/id', '']) {
      expect(isSafeExternalUrl(bad), bad).toBe(false);
    }
  });
});

const requireFromRoot = createRequire(join(root, 'package.json'));

describe('the Electron window loads app://, with one CSP', () => {
  beforeEach(() => {
    electron.calls.loaded.length = 0;
  });

  it('registers app:// as a standard, secure scheme and loads app://prefixlab/index.html, not file://', async () => {
    const { appUrlOf, createMainWindow, registerAppScheme, serveAppProtocol } = await import('../../src/main/window');
    registerAppScheme();
    expect(electron.calls.privileged).toEqual([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
    expect(appUrlOf()).toBe('app://prefixlab/index.html');
    expect(appUrlOf('http://localhost:5173/')).toBe('http://localhost:5173/'); // npm run dev, unchanged
    createMainWindow('/preload.cjs');
    expect(electron.calls.loaded).toEqual(['app://prefixlab/index.html']);
    // protocol.handle serves the renderer folder through the confined handler.
    const dir = mkdtempSync(join(tmpdir(), 'prefixlab-app-'));
    try {
      writeFileSync(join(dir, 'index.html'), '<p>page</p>');
      serveAppProtocol(dir);
      const handler = electron.calls.handlers.get('app')!;
      const page = await handler(new Request('app://prefixlab/index.html'));
      expect(await page.text()).toBe('<p>page</p>');
      expect(page.headers.get('content-security-policy')).toBe(APP_CSP);
      expect((await handler(new Request('app://prefixlab/..%2f..%2fetc%2fpasswd'))).status).toBe(403);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Responses that do not come through app:// (the dev server) get the same policy as a header.
    const onHeaders = electron.calls.headers.at(-1) as (d: unknown, done: (r: { responseHeaders: Record<string, string[]> }) => void) => void;
    let sent: Record<string, string[]> = {};
    onHeaders({ responseHeaders: {} }, (r) => (sent = r.responseHeaders));
    expect(sent['Content-Security-Policy']).toEqual([APP_CSP]);
  });

  it("the window's CSP connects only to 'self'; the built page's <meta> is the same policy", async () => {
    expect(APP_CSP).toMatch(/(^|; )connect-src 'self'(;|$)/);
    const config = (await import('../../electron.vite.config')).default as unknown as {
      renderer: { plugins: { name?: string; transformIndexHtml?: () => { tag: string; attrs: Record<string, string> }[] }[] };
    };
    const plugin = config.renderer.plugins.find((p) => p?.name === 'prefixlab-csp-meta');
    const [meta] = plugin!.transformIndexHtml!();
    expect(meta).toMatchObject({ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy({ forMeta: true }) } });
    // The meta differs only by frame-ancestors, which browsers ignore (and complain about) in a <meta>.
    expect(`${meta!.attrs.content}; frame-ancestors 'none'`).toBe(APP_CSP);
    // The source page carries no hand-written copy that could drift from it.
    expect(readFileSync(join(root, 'src/renderer/index.html'), 'utf8')).not.toMatch(/<meta[^>]+Content-Security-Policy/i);
  });
});

describe('Electron fuses in the packaged app', () => {
  const { getConfig, validateConfiguration } = requireFromRoot('app-builder-lib/out/util/config/config.js');
  const { resolveFunction } = requireFromRoot('app-builder-lib/out/util/resolve.js');
  const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
  const FUSE_ORDER = [
    'runAsNode',
    'enableCookieEncryption',
    'enableNodeOptionsEnvironmentVariable',
    'enableNodeCliInspectArguments',
    'enableEmbeddedAsarIntegrityValidation',
    'onlyLoadAppFromAsar',
    'loadBrowserProcessSpecificV8Snapshot',
    'grantFileProtocolExtraPrivileges',
  ];
  const REQUIRED = {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
  };
  const quiet = { isEnabled: false, add: () => undefined };

  /** A file shaped like Electron's fuse wire (sentinel, version 1, length, one byte per fuse: '1' on, '0' off). */
  function standIn(path: string, wire: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('\x7fELF padding '), Buffer.from(SENTINEL), Buffer.from([1, wire.length]), Buffer.from(wire), Buffer.from(' rest of the binary')]),
    );
  }
  function wireOf(path: string): Record<string, boolean> {
    const bytes = readFileSync(path);
    const at = bytes.indexOf(SENTINEL) + SENTINEL.length + 2;
    return Object.fromEntries(FUSE_ORDER.map((name, i) => [name, bytes[at + i] === 0x31]));
  }

  it('electron-builder 25 accepts electron-builder.yml, whose afterPack hook flips every required fuse', async () => {
    const cwd = process.cwd();
    process.chdir(root); // electron-builder resolves the hook path against the project folder, as `npm run dist` does
    try {
      const config = await getConfig(root, null, null);
      await validateConfiguration(config, quiet);
      expect(config.asar).not.toBe(false);
      // The Python loader ships beside app.asar, where src/main/export/ptplus-loader.ts looks (process.resourcesPath).
      expect(config.extraResources).toContainEqual(expect.objectContaining({ from: 'python/prefixlab_ptplus', to: 'python/prefixlab_ptplus' }));
      // Its schema has no electronFuses option (that arrived in electron-builder 26), hence the hook.
      await expect(validateConfiguration({ ...config, electronFuses: { runAsNode: false } }, quiet)).rejects.toThrow(/electronFuses/);
      const afterPack = await resolveFunction('module', config.afterPack, 'afterPack');
      expect(typeof afterPack).toBe('function');
      const out = mkdtempSync(join(tmpdir(), 'prefixlab-fuses-'));
      try {
        const packager = { appInfo: { productFilename: 'PrefixLab' }, executableName: 'prefixlab' };
        const targets: [string, string][] = [
          ['linux', join(out, 'linux/prefixlab')],
          ['win32', join(out, 'win32/PrefixLab.exe')],
          // x64 (arch 1): no ad-hoc re-signing, which needs macOS's codesign.
          ['darwin', join(out, 'darwin/PrefixLab.app/Contents/Frameworks/Electron Framework.framework/Electron Framework')],
        ];
        for (const [platform, binary] of targets) {
          // Electron's defaults (the opposite of each required value), and a 9th fuse the library does not know.
          standIn(binary, '101100011');
          await afterPack({ appOutDir: join(out, platform), electronPlatformName: platform, arch: 1, packager });
          expect(wireOf(binary), platform).toMatchObject(REQUIRED);
          expect(readFileSync(binary).includes(Buffer.from(`${SENTINEL}\x01\x09010011001`)), `${platform}: unknown 9th fuse left as it was`).toBe(true);
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    } finally {
      process.chdir(cwd);
    }
  });

  it('the hook sets each fuse explicitly, to the required value', async () => {
    const { FUSES, fuseConfig } = await import(pathToFileURL(join(root, 'scripts/electron-fuses.js')).href);
    expect(FUSES).toMatchObject(REQUIRED);
    expect(Object.keys(FUSES).sort()).toEqual([...FUSE_ORDER].sort());
    const config = fuseConfig('darwin', 3);
    expect(config.resetAdHocDarwinSignature).toBe(true); // Apple Silicon needs its ad-hoc signature back
    expect(fuseConfig('linux', 1).resetAdHocDarwinSignature).toBe(false);
    expect(Object.keys(config).filter((k) => /^\d+$/.test(k))).toHaveLength(8);
  });
});
