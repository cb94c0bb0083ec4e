// The folder decides what code may import (VS Code style): Electron only in the shell's glue, no Node or
// tfjs in shared/ (every process imports it), no Node in the renderer.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|vue)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s+['"]([^'"]+)['"]/g), ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

/** Files allowed to import 'electron': the app lifecycle, its window, the IPC binding, the preload. */
const ELECTRON_GLUE = new Set(['src/main/index.ts', 'src/main/window.ts', 'src/main/ipc/bind.ts', 'src/preload/index.ts']);

describe('layering', () => {
  it('only the Electron glue imports electron (handlers, services and the engine never do)', () => {
    const offenders = [...sources('src/main'), ...sources('src/shared'), ...sources('src/renderer')].filter(
      (f) => !ELECTRON_GLUE.has(f) && importsOf(f).some((m) => m === 'electron' || m.startsWith('electron/')),
    );
    expect(offenders).toEqual([]);
  });

  it('shared/ imports no Node, Electron or tfjs module', () => {
    const offenders = sources('src/shared').flatMap((f) =>
      importsOf(f)
        .filter((m) => m.startsWith('node:') || m === 'electron' || m.startsWith('@tensorflow/') || ['fs', 'path', 'os', 'child_process'].includes(m))
        .map((m) => `${f}: ${m}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the renderer imports nothing from Node or main', () => {
    const offenders = sources('src/renderer').flatMap((f) =>
      importsOf(f)
        .filter((m) => m.startsWith('node:') || m.includes('/main/') || m.startsWith('@tensorflow/'))
        .map((m) => `${f}: ${m}`),
    );
    expect(offenders).toEqual([]);
  });
});
