// The folder decides what code may import (VS Code style): Electron only in the shell's glue, no Node or
// tfjs in shared/ (every process imports it), no Node in the renderer, and the main process's ground floors
// import nothing above them: platform/ (Node utilities) only itself, the engine only itself, datasets/ and
// platform/ (what a job needs from above comes in through interfaces, e.g. engine/train/run-recorder.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|vue)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Module specifiers of every import/export … from (also spread over several lines), side-effect import and import(). */
function importsIn(text: string): string[] {
  return [
    ...text.matchAll(/(?:^|[\n;])\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g),
    ...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
}

function importsOf(file: string): string[] {
  return importsIn(readFileSync(join(root, file), 'utf8'));
}

/** What the files of a src/main folder may import from src/main: the folders below them (and their own). */
const MAIN_LAYERS: { folder: string; may: readonly string[] }[] = [
  { folder: 'platform', may: ['platform'] },
  { folder: 'engine', may: ['engine', 'datasets', 'platform'] },
  // Data code the engine reads: never above the engine either.
  { folder: 'datasets', may: ['datasets', 'engine', 'platform'] },
];

/** "file: specifier (folder/ may import only …)" for each relative import that leaves its layer. */
export function layerViolations(files: readonly { file: string; imports: readonly string[] }[]): string[] {
  const out: string[] = [];
  for (const { file, imports } of files) {
    const layer = MAIN_LAYERS.find((l) => file.startsWith(`src/main/${l.folder}/`));
    if (!layer) continue;
    for (const spec of imports) {
      if (!spec.startsWith('.')) continue; // packages, node:, @shared/
      const target = normalize(join(dirname(file), spec)).split(/[\\/]/);
      if (target[0] !== 'src' || target[1] !== 'main') continue;
      const top = target.length > 3 ? target[2] : target[2].replace(/\.[^.]*$/, '');
      if (!layer.may.includes(top)) out.push(`${file}: ${spec} (${layer.folder}/ may import only ${layer.may.map((f) => `${f}/`).join(', ')})`);
    }
  }
  return out;
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

  it('the engine, datasets/ and platform/ import nothing above them (app, handlers, services, registry, rpc, server, cli, …)', () => {
    // The shipped code's graph: a test may drive its module through a service (datasets' tests read files
    // through the dataset service).
    const files = ['src/main/engine', 'src/main/datasets', 'src/main/platform']
      .flatMap(sources)
      .filter((file) => !file.endsWith('.test.ts'))
      .map((file) => ({ file, imports: importsOf(file) }));
    expect(files.length).toBeGreaterThan(100);
    expect(layerViolations(files)).toEqual([]);
  });

  it('the layer check catches a violating import (the engine reaching into the registry, the app or a service)', () => {
    const files = [
      // The violations issue 16 found.
      { file: 'src/main/engine/train/job.ts', imports: ['../../registry/runs-store', '../../app/resource-guard', './memory-guard', '@shared/errors', 'node:fs'] },
      { file: 'src/main/engine/train/sources.ts', imports: ['../../services/dataset-service', '../../datasets/load-examples', '../../platform/system-errors'] },
      { file: 'src/main/engine/index.ts', imports: ['../cli/index', './backend'] },
      { file: 'src/main/datasets/scan/scan-dataset.ts', imports: ['../../app/system-errors', '@tensorflow/tfjs'] },
      { file: 'src/main/platform/atomic-write.ts', imports: ['../engine/backend', './system-errors'] },
      // Above the floors: not this check's business.
      { file: 'src/main/services/training-service.ts', imports: ['../registry/runs-store', '../engine/train/job'] },
    ];
    expect(layerViolations(files)).toEqual([
      'src/main/engine/train/job.ts: ../../registry/runs-store (engine/ may import only engine/, datasets/, platform/)',
      'src/main/engine/train/job.ts: ../../app/resource-guard (engine/ may import only engine/, datasets/, platform/)',
      'src/main/engine/train/sources.ts: ../../services/dataset-service (engine/ may import only engine/, datasets/, platform/)',
      'src/main/engine/index.ts: ../cli/index (engine/ may import only engine/, datasets/, platform/)',
      'src/main/datasets/scan/scan-dataset.ts: ../../app/system-errors (datasets/ may import only datasets/, engine/, platform/)',
      'src/main/platform/atomic-write.ts: ../engine/backend (platform/ may import only platform/)',
    ]);
  });

  it('reads imports spread over several lines, type-only and side-effect imports, re-exports and import()', () => {
    const text = [
      'import {',
      '  RunsStore,',
      '  type RunManifest,',
      "} from '../../registry/runs-store';",
      "import type { AppContext } from '../../app/context';",
      "import '../../server/polyfill';",
      "export { x } from '../../rpc/dispatch';",
      "const { train } = await import('../../services/training-service');",
      '// not an import: \'from\' in a comment, "import" in a string',
    ].join('\n');
    expect(importsIn(text).sort()).toEqual(['../../app/context', '../../registry/runs-store', '../../rpc/dispatch', '../../server/polyfill', '../../services/training-service']);
  });
});
