// The desktop app itself through Playwright's Electron driver. Our CI machines cannot download the
// Electron binary, so there this test reports itself skipped with the reason.
import { _electron as electron, expect, test } from '@playwright/test';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '../..');

function electronSkipReason(): string | undefined {
  const pathFile = join(repoRoot, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return 'no Electron binary on this machine (it is downloaded on first `npm start`; offline machines cannot)';
  if (!existsSync(join(repoRoot, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim()))) return 'the Electron binary is missing from node_modules/electron/dist';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'no display (run under xvfb-run to include this test)';
  return undefined;
}

const skipReason = electronSkipReason();
if (skipReason) console.log(`[electron e2e] skipped: ${skipReason}`);

test('the Electron window is locked down and shows the backend through IPC', async () => {
  test.skip(skipReason !== undefined, `Electron e2e skipped: ${skipReason}`);
  const app = await electron.launch({ args: [repoRoot, '--home', mkdtempSync(join(tmpdir(), 'prefixlab-electron-'))] });
  const window = await app.firstWindow();
  await expect(window.getByTestId('status-backend')).toContainText('Backend:');
  // The renderer has no Node: no require, no process, only the contract's API on window.prefixlab.
  expect(await window.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
  expect(await window.evaluate(() => typeof (window as unknown as { prefixlab?: { system?: unknown } }).prefixlab?.system)).toBe('object');
  expect(await window.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
  await window.screenshot({ path: 'test-results/screenshots/electron-shell.png' });
  await app.close();
});
