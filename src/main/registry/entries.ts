// Reads each kind's manifest into the small summary the index keeps (no tensor file is ever opened).
// Manifests are written by their owners: models (services/model-store.ts), datasets (the datasets
// importer), runs (registry/runs-store.ts, RunManifest) and adapters (adapter-store.ts); the readers are
// tolerant so one odd folder never breaks a listing; a run whose manifest cannot be read at all is listed
// as 'damaged' with the reason rather than hidden. Indexed* are these index records (what `runs list` and
// `adapters list` print); the workbench's RunSummary (a run manifest without its id lists) is the contract's.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { readJsonOrNull, readLabels } from './files';
import { KIND_DIRS, MANIFEST_FILE, isValidId, type EntryKind } from './layout';
import { isOwnerAlive } from '../platform/process-identity';

/** 'damaged': the run's manifest.json exists but is not a readable JSON object (truncated, emptied, garbled). */
export type RunStatusView = 'running' | 'finished' | 'cancelled' | 'failed' | 'interrupted' | 'damaged';

/** The largest run manifest read (they are a few hundred KB even with tens of thousands of example ids). */
export const MAX_RUN_MANIFEST_BYTES = 64 * 2 ** 20;

interface Common {
  id: string;
  name: string;
  tags: string[];
  notes: string;
  createdAt: string;
}

export interface IndexedModel extends Common {
  kind: 'model';
  path: string;
  format: string;
  architecture: string;
  parameters: number | null;
}

export interface IndexedDataset extends Common {
  kind: 'dataset';
  /** The imported dataset's folder under <home>/datasets. */
  dir: string;
  sourcePath: string | null;
  sha256: string | null;
  task: string | null;
  examples: number | null;
}

export interface IndexedRun extends Common {
  kind: 'run';
  /** As stored; `running` runs whose process is gone are reported 'interrupted' by withLiveStatus. */
  status: RunStatusView;
  /** Why the run failed, stopped or was interrupted (as stored), or why it is 'damaged'. */
  reason: string | null;
  method: string;
  modelPath: string | null;
  architecture: string | null;
  datasetPath: string | null;
  datasetSha256: string | null;
  seed: number | null;
  step: number;
  totalSteps: number;
  endedAt: string | null;
  metrics: Record<string, number>;
  /** Owner process, to tell a live run from one whose process died (or whose pid was reused: start time). */
  pid: number | null;
  pidStartTime: number | null;
  hostname: string | null;
}

export interface IndexedAdapter extends Common {
  kind: 'adapter';
  status: 'ready';
  method: string;
  runId: string | null;
  modelPath: string | null;
  architecture: string | null;
  datasetPath: string | null;
  datasetSha256: string | null;
  seed: number | null;
  parameters: number;
  metrics: Record<string, number>;
}

export type IndexedEntry = IndexedModel | IndexedDataset | IndexedRun | IndexedAdapter;
export type IndexedOf<K extends EntryKind> = Extract<IndexedEntry, { kind: K }>;

// ---- field helpers ----

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Finite numbers of a metrics record (nested objects and nulls dropped). */
export function numericMetrics(raw: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(obj(raw))) if (typeof value === 'number' && Number.isFinite(value)) out[key] = value;
  return out;
}

/** A run's test-file block (`--eval-data`) as testAccuracy, testEvalLoss, … (its trainLoss is the run's own). */
function testMetrics(raw: unknown): Record<string, number> {
  const { trainLoss: _trainLoss, ...rest } = numericMetrics(raw);
  return Object.fromEntries(Object.entries(rest).map(([key, value]) => [`test${key[0].toUpperCase()}${key.slice(1)}`, value]));
}

// ---- per kind ----

function modelSummary(id: string, raw: Record<string, unknown>, dir: string): IndexedModel {
  const labels = readLabels(dir);
  const card = obj(raw.card);
  return {
    kind: 'model',
    id,
    name: labels.name ?? str(raw.name) ?? id,
    tags: labels.tags,
    notes: labels.notes,
    createdAt: str(raw.importedAt) ?? str(raw.createdAt) ?? '',
    path: str(raw.path) ?? '',
    format: str(raw.format) ?? '',
    architecture: str(card.architecture) ?? str(raw.architecture) ?? '',
    parameters: num(card.parameters) ?? num(raw.parameters),
  };
}

function datasetSummary(id: string, raw: Record<string, unknown>, dir: string): IndexedDataset {
  const labels = readLabels(dir);
  const source = obj(raw.source);
  return {
    kind: 'dataset',
    id,
    name: labels.name ?? str(raw.name) ?? id,
    tags: labels.tags,
    notes: labels.notes,
    createdAt: str(raw.createdAt) ?? str(raw.importedAt) ?? '',
    dir,
    sourcePath: str(source.path) ?? str(raw.path),
    sha256: str(source.sha256) ?? str(raw.sha256),
    task: str(raw.task),
    examples: num(raw.examples),
  };
}

function runSummary(id: string, raw: Record<string, unknown>, dir: string): IndexedRun {
  const labels = readLabels(dir);
  const base = obj(raw.baseModel);
  const dataset = obj(raw.dataset);
  const status = str(raw.status);
  const known: RunStatusView[] = ['running', 'finished', 'cancelled', 'failed', 'interrupted'];
  return {
    kind: 'run',
    id,
    name: labels.name ?? str(raw.name) ?? id,
    tags: labels.tags,
    notes: labels.notes,
    createdAt: str(raw.startedAt) ?? str(raw.createdAt) ?? '',
    status: known.includes(status as RunStatusView) ? (status as RunStatusView) : 'failed',
    reason: str(raw.reason),
    method: str(raw.method) ?? '',
    modelPath: str(base.path),
    architecture: str(base.architecture),
    datasetPath: str(dataset.path),
    datasetSha256: str(dataset.sha256),
    seed: num(raw.seed),
    step: num(raw.step) ?? 0,
    totalSteps: num(raw.totalSteps) ?? 0,
    endedAt: str(raw.endedAt),
    metrics: { ...numericMetrics(raw.final), ...testMetrics(raw.finalTest) },
    pid: num(raw.pid),
    pidStartTime: num(raw.pidStartTime),
    hostname: str(raw.hostname),
  };
}

// Ids RunsStore.newRunId makes: <yyyymmdd>-<hhmmss>-<method>-<4 hex>.
const GENERATED_RUN_ID = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-([a-z]+)-[0-9a-f]{4}$/;

/** A run manifest (which exists) as a JSON object, or why it cannot be read as one. */
export function readRunManifestJson(path: string): { raw: Record<string, unknown> } | { problem: string } {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_RUN_MANIFEST_BYTES) return { problem: `manifest.json is ${size} bytes, more than a run manifest can be (${MAX_RUN_MANIFEST_BYTES})` };
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { problem: `manifest.json cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  if (text.trim() === '') return { problem: 'manifest.json is empty' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `manifest.json is not valid JSON, probably cut short (${(err as Error).message})` };
  }
  return value && typeof value === 'object' && !Array.isArray(value) ? { raw: value as Record<string, unknown> } : { problem: 'manifest.json does not hold a JSON object' };
}

/**
 * A run whose manifest exists but cannot be read: listed with status 'damaged' and the reason, so it never
 * silently vanishes. Method and start time come from the id where RunsStore generated it.
 */
function damagedRunSummary(id: string, dir: string, reason: string): IndexedRun {
  const labels = readLabels(dir);
  const m = GENERATED_RUN_ID.exec(id);
  return {
    kind: 'run',
    id,
    name: labels.name ?? id,
    tags: labels.tags,
    notes: labels.notes,
    createdAt: m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z` : '',
    status: 'damaged',
    reason,
    method: m ? m[7] : '',
    modelPath: null,
    architecture: null,
    datasetPath: null,
    datasetSha256: null,
    seed: null,
    step: 0,
    totalSteps: 0,
    endedAt: null,
    metrics: {},
    pid: null,
    pidStartTime: null,
    hostname: null,
  };
}

function adapterSummary(id: string, raw: Record<string, unknown>, dir: string): IndexedAdapter {
  const labels = readLabels(dir);
  const base = obj(raw.baseModel);
  const dataset = obj(raw.dataset);
  const tensors = obj(raw.tensors);
  return {
    kind: 'adapter',
    id,
    name: labels.name ?? str(raw.name) ?? id,
    tags: labels.tags,
    notes: labels.notes,
    createdAt: str(raw.createdAt) ?? '',
    status: 'ready',
    method: str(raw.method) ?? '',
    runId: str(raw.runId),
    modelPath: str(base.path),
    architecture: str(base.architecture),
    datasetPath: str(dataset.path),
    datasetSha256: str(dataset.sha256),
    seed: num(raw.seed),
    parameters: num(tensors.parameters) ?? 0,
    metrics: numericMetrics(raw.metrics),
  };
}

/**
 * The summary of one entry folder, or null when its manifest is missing (a folder still being created) or,
 * for models, datasets and adapters, unreadable. A run with an unreadable manifest reads 'damaged'.
 */
export function readSummary(home: string, kind: EntryKind, id: string): IndexedEntry | null {
  if (!isValidId(id)) return null;
  const dir = join(home, KIND_DIRS[kind], id);
  if (kind === 'run') {
    if (!existsSync(join(dir, MANIFEST_FILE))) return null;
    const read = readRunManifestJson(join(dir, MANIFEST_FILE));
    return 'problem' in read ? damagedRunSummary(id, dir, read.problem) : runSummary(id, read.raw, dir);
  }
  const raw = readJsonOrNull(join(dir, MANIFEST_FILE));
  if (!raw) return null;
  switch (kind) {
    case 'model':
      return modelSummary(id, raw, dir);
    case 'dataset':
      return datasetSummary(id, raw, dir);
    case 'adapter':
      return adapterSummary(id, raw, dir);
  }
}

/** Entry folders of a kind with their mtimes (folder names only; hidden and temp folders skipped). */
export function listEntryFolders(home: string, kind: EntryKind): { id: string; mtimeMs: number }[] {
  const root = join(home, KIND_DIRS[kind]);
  if (!existsSync(root)) return [];
  const out: { id: string; mtimeMs: number }[] = [];
  for (const dirent of readdirSync(root, { withFileTypes: true })) {
    if (!dirent.isDirectory() || !isValidId(dirent.name)) continue;
    try {
      out.push({ id: dirent.name, mtimeMs: statSync(join(root, dirent.name)).mtimeMs });
    } catch {
      // removed while listing
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

// ---- live status ----

/**
 * A 'running' run whose process is gone (or whose pid now belongs to another process) is shown as
 * 'interrupted'; the manifest itself is left to its owner (runs-store). A run started on another host (a
 * shared home folder) cannot be checked and stays 'running'.
 */
export function withLiveStatus(run: IndexedRun): IndexedRun {
  if (run.status !== 'running') return run;
  if (run.hostname !== null && run.hostname !== hostname()) return run;
  const alive = run.pid !== null && isOwnerAlive(run.pid, run.pidStartTime);
  return alive ? run : { ...run, status: 'interrupted', reason: run.reason ?? `the training process (pid ${run.pid ?? '?'}) ended without finishing the run` };
}

/** Absolute, normalised path for comparisons (null stays null). */
export function normPath(path: string | null | undefined): string | null {
  return path ? resolve(path) : null;
}
