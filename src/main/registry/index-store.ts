// <home>/index.json: summaries of every model, dataset, run and adapter folder, so listings, filters and
// sorts never open a tensor file or every manifest. It is a cache: each read compares the folders' mtimes
// (entry folder and its manifest) and count with the stamps it stored, re-reads only the entries that
// changed, and rewrites itself atomically. Deleting it is always safe.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../platform/atomic-write';
import { listEntryFolders, readSummary, withLiveStatus, type IndexedEntry, type IndexedOf } from './entries';
import { readJsonOrNull } from './files';
import { ENTRY_KINDS, INDEX_FILE, KIND_DIRS, MANIFEST_FILE, type EntryKind } from './layout';

export const INDEX_VERSION = 1;

interface IndexRecord {
  /** max(folder mtime, manifest mtime) when the summary was read. */
  stampMs: number;
  summary: IndexedEntry;
}

export interface RegistryIndexFile {
  version: number;
  updatedAt: string;
  kinds: Record<EntryKind, Record<string, IndexRecord>>;
}

export interface IndexSnapshot {
  models: IndexedOf<'model'>[];
  datasets: IndexedOf<'dataset'>[];
  /** With live status: 'running' runs of dead processes read 'interrupted'; unreadable manifests 'damaged'. */
  runs: IndexedOf<'run'>[];
  adapters: IndexedOf<'adapter'>[];
  /** True when this read rebuilt (part of) the index from the folders. */
  rebuilt: boolean;
}

function emptyIndex(): RegistryIndexFile {
  return { version: INDEX_VERSION, updatedAt: new Date(0).toISOString(), kinds: { model: {}, dataset: {}, run: {}, adapter: {} } };
}

// What an indexed summary must look like to be trusted; anything else is re-read from its folder.
const str = z.string();
const nstr = z.string().nullable();
const nnum = z.number().nullable();
const common = { id: str, name: str, tags: z.array(str), notes: str, createdAt: str };
const metrics = z.record(z.string(), z.number());
const SUMMARY_SCHEMAS: Record<EntryKind, z.ZodType> = {
  model: z.object({ kind: z.literal('model'), ...common, path: str, format: str, architecture: str, parameters: nnum }),
  dataset: z.object({ kind: z.literal('dataset'), ...common, dir: str, sourcePath: nstr, sha256: nstr, task: nstr, examples: nnum }),
  run: z.object({
    kind: z.literal('run'),
    ...common,
    status: z.enum(['running', 'finished', 'cancelled', 'failed', 'interrupted', 'damaged']),
    reason: nstr,
    method: str,
    modelPath: nstr,
    architecture: nstr,
    datasetPath: nstr,
    datasetSha256: nstr,
    seed: nnum,
    step: z.number(),
    totalSteps: z.number(),
    endedAt: nstr,
    metrics,
    pid: nnum,
    pidStartTime: nnum,
    hostname: nstr,
  }),
  adapter: z.object({
    kind: z.literal('adapter'),
    ...common,
    status: z.literal('ready'),
    method: str,
    runId: nstr,
    modelPath: nstr,
    architecture: nstr,
    datasetPath: nstr,
    datasetSha256: nstr,
    seed: nnum,
    parameters: z.number(),
    metrics,
  }),
};

function readIndexFile(home: string): RegistryIndexFile | null {
  const raw = readJsonOrNull(join(home, INDEX_FILE));
  if (!raw || raw.version !== INDEX_VERSION || !raw.kinds || typeof raw.kinds !== 'object') return null;
  const kinds = raw.kinds as Record<string, unknown>;
  if (!ENTRY_KINDS.every((k) => kinds[k] && typeof kinds[k] === 'object' && !Array.isArray(kinds[k]))) return null;
  // index.json is a cache: an entry that does not have the shape we wrote is dropped (and re-read from its
  // folder) rather than trusted, so a damaged index can never break a listing.
  const index = emptyIndex();
  for (const kind of ENTRY_KINDS) {
    for (const [id, value] of Object.entries(kinds[kind] as Record<string, unknown>)) {
      const entry = value as Partial<IndexRecord> | null;
      if (!entry || typeof entry !== 'object' || typeof entry.stampMs !== 'number') continue;
      const summary = SUMMARY_SCHEMAS[kind].safeParse(entry.summary);
      if (summary.success && (summary.data as IndexedEntry).id === id) index.kinds[kind][id] = { stampMs: entry.stampMs, summary: summary.data as IndexedEntry };
    }
  }
  index.updatedAt = typeof raw.updatedAt === 'string' ? raw.updatedAt : index.updatedAt;
  return index;
}

function stampOf(home: string, kind: EntryKind, id: string, folderMtimeMs: number): number {
  try {
    return Math.max(folderMtimeMs, statSync(join(home, KIND_DIRS[kind], id, MANIFEST_FILE)).mtimeMs);
  } catch {
    return folderMtimeMs;
  }
}

/**
 * The index brought up to date with the folders (only changed entries are re-read). Writes index.json when
 * anything changed or it was missing/unreadable; a write failure (read-only home) is not an error.
 */
export async function refreshIndex(home: string, opts: { rebuild?: boolean } = {}): Promise<{ index: RegistryIndexFile; rebuilt: boolean }> {
  const stored = opts.rebuild ? null : readIndexFile(home);
  const index = stored ?? emptyIndex();
  let changed = stored === null;
  for (const kind of ENTRY_KINDS) {
    const current = index.kinds[kind];
    const folders = listEntryFolders(home, kind);
    const seen = new Set<string>();
    for (const { id, mtimeMs } of folders) {
      seen.add(id);
      const stampMs = stampOf(home, kind, id, mtimeMs);
      const known = current[id];
      if (known && known.stampMs === stampMs) continue;
      const summary = readSummary(home, kind, id);
      changed = true;
      if (summary) current[id] = { stampMs, summary };
      else delete current[id]; // half-written or foreign folder: not listed until it has a manifest (a run with an unreadable one reads 'damaged')
    }
    for (const id of Object.keys(current)) {
      if (!seen.has(id)) {
        delete current[id];
        changed = true;
      }
    }
  }
  if (changed) {
    index.updatedAt = new Date().toISOString();
    if (existsSync(home)) await writeJsonAtomic(join(home, INDEX_FILE), index).catch(() => {});
  }
  return { index, rebuilt: changed };
}

/** Every entry, newest first per kind, with live run status. */
export async function readIndex(home: string, opts: { rebuild?: boolean } = {}): Promise<IndexSnapshot> {
  const { index, rebuilt } = await refreshIndex(home, opts);
  const list = <K extends EntryKind>(kind: K): IndexedOf<K>[] =>
    Object.values(index.kinds[kind])
      .map((e) => e.summary as IndexedOf<K>)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id));
  return {
    models: list('model'),
    datasets: list('dataset'),
    runs: list('run').map(withLiveStatus),
    adapters: list('adapter'),
    rebuilt,
  };
}
