// Tests only: what the real-Python torch tests share — the repository's .venv Python and why they skip without it,
// and the tiny labelled "weather" file they train on.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasStoriesHf } from '../../../engine/train/test-fixtures';
import { enginePythonPath, repoRoot } from './python-env';

const root = repoRoot(import.meta.dirname);
/** The repository's .venv Python (python/setup-venv.sh). */
export const venvPython = root ? join(root, '.venv', 'bin', 'python') : '';

/** Why a real torch-engine test cannot run here (null: it can). */
export function realTorchSkipReason(): string | null {
  const engine = enginePythonPath(root);
  if (!hasStoriesHf()) return 'stories260K is absent';
  if (!existsSync(venvPython)) return `${venvPython} is absent (bash python/setup-venv.sh)`;
  if (!engine || !existsSync(join(engine, 'prefixlab_torch', 'train.py'))) return 'python/prefixlab_torch is absent';
  return null;
}

/** Writes `<name> saw the sun.` → happy / `<name> saw the rain.` → sad for each name, as JSONL. */
export function writeWeatherData(path: string, names = ['Lily', 'Tom', 'Sam', 'Mia', 'Ben', 'Anna']): string {
  const rows = names.flatMap((n) => [JSON.stringify({ text: `${n} saw the sun.`, label: 'happy' }), JSON.stringify({ text: `${n} saw the rain.`, label: 'sad' })]);
  writeFileSync(path, rows.join('\n') + '\n');
  return path;
}
