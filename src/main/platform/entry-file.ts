// Where a child process's entry file is: its bundle beside the caller's bundle (electron-vite emits each entry
// as out/main/<name>.js), else — running from source (vitest, tsx) — the TypeScript file through tsx's loader
// with the repository's path aliases.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface EntryFile {
  file: string;
  execArgv: string[];
  env: Record<string, string>;
}

/**
 * `callerUrl`: the caller's import.meta.url; `bundled`: the entry's bundle name (train-worker.js); `source`: the
 * TypeScript file, relative to the caller's folder; `override`: a file to use instead (an environment setting).
 */
export function entryFile(callerUrl: string, bundled: string, source: string, override?: string): EntryFile {
  const here = dirname(fileURLToPath(callerUrl));
  if (override) return { file: override, execArgv: override.endsWith('.ts') ? tsxArgs() : [], env: tsxEnv(override) };
  if (!callerUrl.endsWith('.ts')) {
    // The caller may sit in out/main or in a shared chunk folder below it.
    for (const candidate of [join(here, bundled), join(here, '..', bundled)]) {
      if (existsSync(candidate)) return { file: candidate, execArgv: [], env: {} };
    }
  }
  const file = join(here, source);
  return { file, execArgv: tsxArgs(), env: tsxEnv(file) };
}

function tsxArgs(): string[] {
  const loader = createRequire(import.meta.url).resolve('tsx');
  return ['--import', pathToFileURL(loader).href];
}

/** tsx reads `paths` (the @shared alias) from tsconfig.node.json at the repository root. */
function tsxEnv(file: string): Record<string, string> {
  let dir = dirname(file);
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'tsconfig.node.json');
    if (existsSync(candidate)) return { TSX_TSCONFIG_PATH: candidate };
    dir = dirname(dir);
  }
  return {};
}
