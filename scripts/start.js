// `npm start`: build if needed, then open the Electron window; where no Electron binary can be had (no
// download possible, or no display), say so in one line and serve the same UI headless instead.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt } from './build-state.js';
import { headlessServeArgs } from './headless-serve-args.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const electronDir = join(root, 'node_modules/electron');
const unavailableMarker = join(root, 'node_modules/.prefixlab-electron-unavailable');

function electronBinary() {
  const pathFile = join(electronDir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const binary = join(electronDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

/** Electron downloads its binary on first use (npm 11 skips dependency install scripts by default). */
function fetchElectron() {
  if (!existsSync(join(electronDir, 'install.js'))) return 'the electron package is not installed';
  if (existsSync(unavailableMarker) && !args.includes('--retry-electron')) return readFileSync(unavailableMarker, 'utf8').trim();
  console.error('prefixlab: downloading the Electron binary (first start only)…');
  const result = spawnSync(process.execPath, [join(electronDir, 'install.js')], { cwd: electronDir, encoding: 'utf8', timeout: 300_000 });
  if (result.status === 0 && electronBinary()) return undefined;
  const detail = (result.stderr || result.error?.message || 'unknown error').split('\n').find((l) => l.trim()) ?? 'unknown error';
  const reason = `the Electron binary could not be downloaded (${detail.trim().slice(0, 160)})`;
  writeFileSync(unavailableMarker, reason + '\n');
  return reason;
}

function serveHeadless(reason) {
  console.error(`prefixlab: ${reason}; serving PrefixLab headless instead — open the URL below in a browser.`);
  const child = spawn(process.execPath, [join(root, 'bin/prefixlab.js'), 'serve', ...headlessServeArgs(args)], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
}

ensureBuilt();
let binary = electronBinary();
const downloadProblem = binary ? undefined : fetchElectron();
binary ??= electronBinary();
if (!binary) {
  serveHeadless(downloadProblem ?? 'no Electron binary');
} else if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  serveHeadless('no display to open a window on (DISPLAY is unset)');
} else {
  const child = spawn(binary, [root, ...args.filter((a) => a !== '--retry-electron')], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
}
