// Electron hardening: Electronegativity finds no HIGH/CRITICAL misconfiguration in what ships (and does find
// one in a deliberately bad window, so the check is live); the window's URL policy only lets the app's own
// page load and only https links out.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppUrl, isSafeExternalUrl } from '../../src/main/app/url-policy';

const root = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-eneg-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function electronegativity(extra: string[]): { status: number | null; report: { findings: { id: string; severity: string }[]; parseErrors: string[]; high: number; checks: number } } {
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
