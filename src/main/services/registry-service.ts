// Registry operations for the CLI (`prefixlab runs list|show`, `prefixlab adapters list|show`) and the app:
// listings come from <home>/index.json (no tensor file opened), details from one entry's manifest. Every
// function returns plain JSON.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '@shared/contract/calls/training';
import type { RunManifest, TrainProgress } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import { createAdapterFromRun, readAdapterManifest, type AdapterManifest } from '../registry/adapter-store';
import { deleteEntry, findDependents, renameEntry, setNotes, tagEntry, type DeleteResult, type Dependents } from '../registry/edits';
import { readRunManifestJson, withLiveStatus, type IndexedAdapter, type IndexedDataset, type IndexedModel, type IndexedRun } from '../registry/entries';
import type { Labels } from '../registry/files';
import { readIndex } from '../registry/index-store';
import { MANIFEST_FILE, checkId, entryDir, type EntryKind } from '../registry/layout';
import { applyFilter, type ListFilter } from '../registry/query';
import { RunsStore } from '../registry/runs-store';

export type { ListFilter } from '../registry/query';
export type { IndexedAdapter, IndexedRun } from '../registry/entries';

/** `prefixlab runs list --json` */
export async function listRuns(home: string, filter: ListFilter = {}): Promise<{ runs: IndexedRun[] }> {
  const snapshot = await readIndex(home);
  return { runs: applyFilter(snapshot.runs, filter, snapshot) };
}

/** `prefixlab adapters list --json` */
export async function listAdapters(home: string, filter: ListFilter = {}): Promise<{ adapters: IndexedAdapter[] }> {
  const snapshot = await readIndex(home);
  return { adapters: applyFilter(snapshot.adapters, filter, snapshot) };
}

export async function listModels(home: string): Promise<{ models: IndexedModel[] }> {
  return { models: (await readIndex(home)).models };
}

export async function listDatasets(home: string): Promise<{ datasets: IndexedDataset[] }> {
  return { datasets: (await readIndex(home)).datasets };
}

/** A finished run (or, with allowUnfinished, its newest checkpoint) becomes a registry adapter. */
export function adapterFromRun(home: string, runId: string, opts: { name?: string; allowUnfinished?: boolean } = {}): Promise<AdapterManifest> {
  return createAdapterFromRun(home, runId, opts);
}

// ---- run manifests, as the workbench reads them (training.state, training.metrics, training.resume) ----

/** A run manifest without its id lists (thousands of example ids per run), counted instead. */
export function summariseRun(m: RunManifest): RunSummary {
  const { trainIds, evalIds, ...dataset } = m.dataset;
  const rest = { ...m };
  delete rest.runSpec; // its frozen split repeats the id lists
  return { ...rest, dataset: { ...dataset, trainCount: trainIds.length, evalCount: evalIds.length } };
}

/** Every readable run, newest first, summarised. */
export function runSummaries(home: string): RunSummary[] {
  return new RunsStore(home).list().map(summariseRun);
}

/** One run's manifest; not_found / bad_file naming the file when it is missing or damaged. */
export function runManifest(home: string, runId: string): RunManifest {
  return new RunsStore(home).read(runId);
}

/** Every progress point a run logged so far. */
export function runMetrics(home: string, runId: string): TrainProgress[] {
  return new RunsStore(home).readMetrics(runId);
}

export interface RunDetails {
  summary: IndexedRun;
  /** The run manifest as runs-store wrote it (status as stored). */
  manifest: Record<string, unknown>;
  labels: Labels;
  /** Adapters made from this run. */
  adapters: string[];
  /** Lines in metrics.jsonl (one per logged step). */
  metricPoints: number;
}

/** What to do about a run whose manifest cannot be read (`runs show`, and the app's details pane). */
export function damagedRunHint(id: string, dir: string): string {
  return `restore ${join(dir, MANIFEST_FILE)} from a backup to repair run ${id}, or delete the run (Delete in the app's Adapters view, or remove the folder ${dir})`;
}

/**
 * `prefixlab runs show ID --json`: manifest, live status, labels and the adapters made from it. A run whose
 * manifest is damaged is refused in one line: why, and how to repair or delete it.
 */
export async function showRun(home: string, id: string): Promise<RunDetails> {
  checkId(id);
  const dir = entryDir(home, 'run', id);
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw new ApiError('not_found', `no run "${id}"`, { field: 'id' });
  const read = readRunManifestJson(path);
  if ('problem' in read) throw new ApiError('bad_file', `run ${id} is damaged: ${read.problem}; ${damagedRunHint(id, dir)}`, { file: path });
  const manifest = read.raw;
  const snapshot = await readIndex(home);
  const summary = snapshot.runs.find((r) => r.id === id);
  if (!summary) throw new ApiError('bad_file', `run ${id} has an unreadable manifest`, { file: join(dir, MANIFEST_FILE) });
  const metricsPath = join(dir, 'metrics.jsonl');
  const metricPoints = existsSync(metricsPath)
    ? readFileSync(metricsPath, 'utf8')
        .split('\n')
        .filter((l) => l.trim()).length
    : 0;
  return {
    summary: withLiveStatus(summary),
    manifest,
    labels: { name: summary.name, tags: summary.tags, notes: summary.notes },
    adapters: snapshot.adapters.filter((a) => a.runId === id).map((a) => a.id),
    metricPoints,
  };
}

/** `prefixlab adapters show ID --json`: the provenance manifest plus labels. */
export async function showAdapter(home: string, id: string): Promise<{ summary: IndexedAdapter; manifest: AdapterManifest }> {
  const manifest = readAdapterManifest(home, id);
  const summary = (await readIndex(home)).adapters.find((a) => a.id === id);
  if (!summary) throw new ApiError('bad_file', `adapter ${id} has an unreadable manifest`, { field: 'id' });
  return { summary, manifest };
}

// ---- edits ----

export function removeEntry(home: string, kind: EntryKind, id: string, force = false): Promise<DeleteResult> {
  return deleteEntry(home, kind, id, { force });
}

export function dependentsOf(home: string, kind: 'model' | 'dataset', id: string): Promise<Dependents> {
  return findDependents(home, kind, id);
}

export function rename(home: string, kind: EntryKind, id: string, name: string): Promise<Labels> {
  return renameEntry(home, kind, id, name);
}

export function tag(home: string, kind: EntryKind, id: string, change: { add?: string[]; remove?: string[] }): Promise<Labels> {
  return tagEntry(home, kind, id, change);
}

export function notes(home: string, kind: EntryKind, id: string, text: string): Promise<Labels> {
  return setNotes(home, kind, id, text);
}

/** Rebuilds index.json from the folders (also happens on its own when it is missing or stale). */
export async function rebuildIndex(home: string): Promise<{ runs: number; adapters: number; models: number; datasets: number }> {
  const s = await readIndex(home, { rebuild: true });
  return { runs: s.runs.length, adapters: s.adapters.length, models: s.models.length, datasets: s.datasets.length };
}
