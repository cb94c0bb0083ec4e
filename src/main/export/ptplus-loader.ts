// The Python loader (python/prefixlab_ptplus) goes into every Prefix-Tuning+ export folder, so the folder
// runs on its own: `sys.path.insert(0, EXPORT_DIR); from prefixlab_ptplus import load_ptplus`. Found by
// walking up from this module: src/main/export (tests, tsx), out/main or out/main/chunks (the built CLI and
// app, also inside app.asar when electron-builder's `files` lists python/prefixlab_ptplus/**), else
// <resources>/python/prefixlab_ptplus (an `extraResources` copy).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '@shared/errors';

export const PTPLUS_LOADER_DIR = 'prefixlab_ptplus';
const LOADER_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.(py|md|toml)$/;

/** The loader package folder of this installation, or null. */
export function findPtplusLoader(): string | null {
  const candidates: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    candidates.push(join(dir, 'python', PTPLUS_LOADER_DIR));
    dir = dirname(dir);
  }
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources) candidates.push(join(resources, 'python', PTPLUS_LOADER_DIR));
  return candidates.find((c) => existsSync(join(c, '__init__.py')) && existsSync(join(c, 'loader.py'))) ?? null;
}

/** Copies the loader's files (Python sources, README, pyproject; no caches) into `<dir>/prefixlab_ptplus/`. */
export function copyPtplusLoader(dir: string, source = findPtplusLoader()): void {
  if (!source) {
    throw new ApiError('internal', `the Prefix-Tuning+ Python loader (python/${PTPLUS_LOADER_DIR}) is missing from this installation; nothing was written`, { field: 'format' });
  }
  const target = join(dir, PTPLUS_LOADER_DIR);
  mkdirSync(target);
  // readFileSync/writeFileSync rather than copyFile: they also read from inside app.asar.
  for (const name of readdirSync(source)
    .filter((n) => LOADER_FILE.test(n))
    .sort())
    writeFileSync(join(target, name), readFileSync(join(source, name)));
}
