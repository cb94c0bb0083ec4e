// Starts `prefixlab serve --port 0 --json` on a fresh data folder and opens Debian's Chromium on it.
import { test as base, chromium, type Browser, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const sharedDir = process.env.PREFIXLAB_SHARED ?? resolve(repoRoot, '../shared');

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function chromiumExecutable(): string | undefined {
  if (process.env.PREFIXLAB_CHROMIUM) return process.env.PREFIXLAB_CHROMIUM;
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
}

export interface ServeHandle {
  url: string;
  port: number;
  token: string;
  home: string;
  process: ChildProcess;
}

/** `env`: variables set for serve on top of this process's (e.g. a fake HOME and model stores for discovery). */
export async function startServe(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServeHandle> {
  const home = mkdtempSync(join(tmpdir(), 'prefixlab-e2e-'));
  const child = spawn(process.execPath, [join(repoRoot, 'bin/prefixlab.js'), 'serve', '--port', '0', '--json', '--home', home, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const firstLine = await new Promise<string>((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolveLine);
    child.once('exit', (code) => reject(new Error(`prefixlab serve exited with ${code}: ${stderr}`)));
  });
  const info = JSON.parse(firstLine) as { url: string; port: number };
  return { url: info.url, port: info.port, token: new URL(info.url).searchParams.get('token')!, home, process: child };
}

export function stopServe(handle: ServeHandle): void {
  handle.process.kill('SIGTERM');
  rmSync(handle.home, { recursive: true, force: true });
}

/** `--root DIR` for each folder the browser's file picker may read (the shared models and datasets). */
export function rootArgs(...dirs: string[]): string[] {
  return dirs.flatMap((dir) => ['--root', dir]);
}

type Fixtures = { serveArgs: string[]; serve: ServeHandle; app: Page; consoleErrors: string[] };
type WorkerFixtures = { browserInstance: Browser };

export const test = base.extend<Fixtures, WorkerFixtures>({
  browserInstance: [
    async ({}, use) => {
      const executablePath = chromiumExecutable();
      const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
      await use(browser);
      await browser.close();
    },
    { scope: 'worker' },
  ],
  /** Extra `prefixlab serve` arguments; a spec sets them with test.use({ serveArgs: rootArgs(sharedDir) }). */
  serveArgs: [[], { option: true }],
  serve: async ({ serveArgs }, use) => {
    const handle = await startServe(serveArgs);
    await use(handle);
    stopServe(handle);
  },
  consoleErrors: async ({}, use) => use([]),
  app: async ({ browserInstance, serve, consoleErrors }, use) => {
    const context = await browserInstance.newContext({ viewport: { width: 1360, height: 860 } });
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    await page.goto(serve.url);
    await use(page);
    await context.close();
  },
});

export const expect = test.expect;
