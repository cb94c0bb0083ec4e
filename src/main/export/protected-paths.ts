// What an export's output folder must never overlap, compared as REAL paths (symlinks resolved, so
// `--home LINK` and `--out REAL` are the same folder): the data folder (outDir may be a new folder inside it,
// but not it, above it, or inside what the registry keeps there), the served / picked roots (not them, not
// above them), and every model and dataset the registry points to (not them, not above them, not inside a
// model or dataset folder).
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import { readIndex } from '../registry/index-store';
import { INDEX_FILE, KIND_DIRS, TRASH_DIR } from '../registry/layout';

/** What the app itself writes directly under <home> (registry kinds, trash, comparisons, uploads, the index). */
export const HOME_OWNED = [...Object.values(KIND_DIRS), TRASH_DIR, 'comparisons', 'uploads', INDEX_FILE];

/** realpath of `path`, or of its nearest existing parent joined with the rest (for folders not yet made). */
export function realPathOf(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(realPathOf(parent), relative(parent, abs));
  }
}

export function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

interface Guarded {
  path: string;
  /** Shown in the refusal: "the data folder", "model stories (…)". */
  what: string;
  /** Whether outDir may not lie inside it either (folders whose contents are not ours to add to). */
  noInside: boolean;
}

/** Every path the export must keep clear of, real. Reads the registry's index (cached summaries, not tensors). */
export async function guardedPaths(home: string, roots: readonly string[], extra: { path: string; what: string }[]): Promise<Guarded[]> {
  const realHome = realPathOf(home);
  const guarded: Guarded[] = [{ path: realHome, what: 'the data folder', noInside: false }];
  for (const name of HOME_OWNED) guarded.push({ path: join(realHome, name), what: `the data folder's ${name}`, noInside: true });
  for (const root of roots) guarded.push({ path: realPathOf(root), what: 'a served folder', noInside: false });
  const pointed: { path: string; what: string }[] = [...extra];
  const snapshot = await readIndex(home);
  for (const m of snapshot.models) if (m.path) pointed.push({ path: m.path, what: `model ${m.name}` });
  for (const d of snapshot.datasets) if (d.sourcePath) pointed.push({ path: d.sourcePath, what: `dataset ${d.name}` });
  for (const e of [...snapshot.runs, ...snapshot.adapters]) {
    if (e.modelPath) pointed.push({ path: e.modelPath, what: `the model of ${e.kind} ${e.name}` });
    if (e.datasetPath) pointed.push({ path: e.datasetPath, what: `the dataset of ${e.kind} ${e.name}` });
  }
  // A model or dataset file (llama2.c .bin, data.csv) guards only itself; a folder guards its inside too.
  for (const p of pointed) guarded.push({ path: realPathOf(p.path), what: p.what, noInside: true });
  return guarded;
}

/** Throws a one-line ApiError when the real outDir is, contains or (where that matters) lies inside a guarded path. */
export function checkClear(outDirReal: string, guarded: readonly Guarded[]): void {
  for (const g of guarded) {
    const above = isInside(g.path, outDirReal);
    const below = g.noInside && isInside(outDirReal, g.path);
    if (!above && !below) continue;
    const how = outDirReal === g.path ? 'is' : above ? 'contains' : 'lies inside';
    throw new ApiError('invalid_argument', `output folder ${outDirReal} ${how} ${g.what} (${g.path}); choose a folder of its own`, { field: 'outDir' });
  }
}
