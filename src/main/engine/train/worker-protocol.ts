// Messages between the app and the training process (worker.ts), and where that process's entry file is.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TrainProgress, TrainResult } from '@shared/contract/training';
import type { ApiErrorData } from '@shared/errors';

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'started'; runId: string; runDir: string; totalSteps: number }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'log'; message: string }
  | { type: 'result'; result: TrainResult }
  | { type: 'error'; error: ApiErrorData };

/**
 * How to start the training process: the bundled `train-worker.js` beside this module's bundle (the
 * electron-vite main build must list src/main/engine/train/worker.ts as entry `train-worker`), else —
 * running from source (vitest, tsx) — worker.ts through tsx's loader with the repo's path aliases.
 * PREFIXLAB_TRAIN_WORKER overrides the file.
 */
export function workerEntry(): { file: string; execArgv: string[]; env: Record<string, string> } {
  const here = dirname(fileURLToPath(import.meta.url));
  const override = process.env.PREFIXLAB_TRAIN_WORKER;
  if (override) return { file: override, execArgv: override.endsWith('.ts') ? tsxArgs() : [], env: tsxEnv(override) };
  if (!import.meta.url.endsWith('.ts')) {
    // The module may sit in out/main or in a shared chunk folder below it.
    for (const bundled of [join(here, 'train-worker.js'), join(here, '..', 'train-worker.js')]) {
      if (existsSync(bundled)) return { file: bundled, execArgv: [], env: {} };
    }
  }
  const source = join(here, 'worker.ts');
  return { file: source, execArgv: tsxArgs(), env: tsxEnv(source) };
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
