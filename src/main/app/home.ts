// The app's data folder: --home DIR, else PREFIXLAB_HOME, else the shell's default
// (Electron: userData; headless: ~/.prefixlab).
import os from 'node:os';
import { join, resolve } from 'node:path';
import { ensureFolder } from '../platform/ensure-folder';

export function resolveHome(explicit?: string, shellDefault?: string): string {
  const dir = explicit ?? process.env.PREFIXLAB_HOME ?? shellDefault ?? join(os.homedir(), '.prefixlab');
  const abs = resolve(dir);
  // One level at a time: a read-only or unwritable location is named with its real cause.
  ensureFolder(abs);
  return abs;
}
