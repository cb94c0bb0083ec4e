// Changes a person makes to registry entries: delete, rename, tags, notes. Labels live in labels.json beside
// the manifest (provenance manifests are never rewritten). Deleting a model or dataset that runs or adapters
// depend on is refused with their ids unless forced; a live run is never deleted. A delete renames the folder
// into <home>/.trash first (atomic), so a crash mid-delete never leaves a half entry in a listing.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { fsyncDir } from '../platform/atomic-write';
import { normPath, readSummary, withLiveStatus, type IndexedAdapter, type IndexedEntry, type IndexedRun } from './entries';
import { readLabels, writeLabels, type Labels } from './files';
import { readIndex, refreshIndex } from './index-store';
import { KIND_DIRS, MANIFEST_FILE, TRASH_DIR, checkId, entryDir, type EntryKind } from './layout';

export interface Dependents {
  runs: string[];
  adapters: string[];
}

function requireEntry(home: string, kind: EntryKind, id: string): IndexedEntry {
  checkId(id);
  const summary = readSummary(home, kind, id);
  if (!summary) {
    const exists = existsSync(join(entryDir(home, kind, id), MANIFEST_FILE));
    throw new ApiError(exists ? 'bad_file' : 'not_found', exists ? `${kind} ${id} has an unreadable manifest` : `no ${kind} "${id}"`, { field: 'id' });
  }
  return summary;
}

/** Runs and adapters that were trained on this model or dataset (matched by path, and sha256 for datasets). */
export async function findDependents(home: string, kind: 'model' | 'dataset', id: string): Promise<Dependents> {
  const entry = requireEntry(home, kind, id);
  const { runs, adapters } = await readIndex(home);
  let uses: (e: IndexedRun | IndexedAdapter) => boolean;
  if (entry.kind === 'model') {
    const path = normPath(entry.path);
    uses = (e) => path !== null && normPath(e.modelPath) === path;
  } else if (entry.kind === 'dataset') {
    const paths = [normPath(entry.dir), normPath(entry.sourcePath)].filter((p): p is string => p !== null);
    uses = (e) => {
      const p = normPath(e.datasetPath);
      return p !== null && paths.some((key) => p === key || p.startsWith(`${key}/`) || p.startsWith(`${key}\\`));
    };
  } else {
    throw new ApiError('invalid_argument', `${kind} entries have no dependents`);
  }
  return {
    runs: runs
      .filter(uses)
      .map((r) => r.id)
      .sort(),
    adapters: adapters
      .filter(uses)
      .map((a) => a.id)
      .sort(),
  };
}

export interface DeleteResult {
  kind: EntryKind;
  id: string;
  deleted: true;
  /** Dependents that were left pointing at nothing (only with force). */
  orphaned: Dependents;
}

/**
 * Removes an entry's folder. Models and datasets with dependents need `force` (the error names them); a run
 * whose process is alive is refused even with force (stop it first).
 */
export async function deleteEntry(home: string, kind: EntryKind, id: string, opts: { force?: boolean } = {}): Promise<DeleteResult> {
  const entry = requireEntry(home, kind, id);
  let orphaned: Dependents = { runs: [], adapters: [] };
  if (kind === 'model' || kind === 'dataset') {
    const dependents = await findDependents(home, kind, id);
    const count = dependents.runs.length + dependents.adapters.length;
    if (count > 0 && !opts.force) {
      const names = [...dependents.runs.map((r) => `run ${r}`), ...dependents.adapters.map((a) => `adapter ${a}`)];
      throw new ApiError('conflict', `${kind} ${id} is used by ${names.join(', ')}; delete those first or pass force`, { field: 'id' });
    }
    orphaned = dependents;
  }
  if (entry.kind === 'run' && withLiveStatus(entry).status === 'running') {
    throw new ApiError('conflict', `run ${id} is still running; stop it before deleting it`, { field: 'id' });
  }
  const trash = join(home, TRASH_DIR);
  mkdirSync(trash, { recursive: true });
  const parked = join(trash, `${KIND_DIRS[kind]}-${id}-${randomBytes(4).toString('hex')}`);
  renameSync(entryDir(home, kind, id), parked);
  await fsyncDir(join(home, KIND_DIRS[kind]));
  rmSync(parked, { recursive: true, force: true });
  await refreshIndex(home);
  return { kind, id, deleted: true, orphaned };
}

/** Applies `change` to an entry's labels and returns the new labels. */
async function updateLabels(home: string, kind: EntryKind, id: string, change: (labels: Labels) => Labels): Promise<Labels> {
  requireEntry(home, kind, id);
  const dir = entryDir(home, kind, id);
  const next = change(readLabels(dir));
  await writeLabels(dir, next);
  await refreshIndex(home);
  return next;
}

export async function renameEntry(home: string, kind: EntryKind, id: string, name: string): Promise<Labels> {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (!trimmed || trimmed.length > 200 || /[\n\r]/.test(trimmed)) {
    throw new ApiError('invalid_argument', 'a name is 1–200 characters on one line', { field: 'name' });
  }
  return updateLabels(home, kind, id, (labels) => ({ ...labels, name: trimmed }));
}

const TAG_PATTERN = /^[^\s,]{1,64}$/;

/** Adds and removes tags (no spaces or commas, at most 64 characters each); returns the new labels. */
export async function tagEntry(home: string, kind: EntryKind, id: string, change: { add?: string[]; remove?: string[] }): Promise<Labels> {
  for (const tag of change.add ?? []) {
    if (typeof tag !== 'string' || !TAG_PATTERN.test(tag)) {
      throw new ApiError('invalid_argument', `tag ${JSON.stringify(tag)} must be 1–64 characters without spaces or commas`, { field: 'tags' });
    }
  }
  return updateLabels(home, kind, id, (labels) => {
    const tags = labels.tags.filter((t) => !(change.remove ?? []).includes(t));
    for (const tag of change.add ?? []) if (!tags.includes(tag)) tags.push(tag);
    return { ...labels, tags };
  });
}

export async function setNotes(home: string, kind: EntryKind, id: string, notes: string): Promise<Labels> {
  if (typeof notes !== 'string' || notes.length > 100_000) throw new ApiError('invalid_argument', 'notes must be text of at most 100,000 characters', { field: 'notes' });
  return updateLabels(home, kind, id, (labels) => ({ ...labels, notes }));
}
