// Filtering and sorting of run and adapter summaries (index data only). A model or dataset filter accepts an
// imported entry's id, a path, or a name, and matches what runs and adapters record (paths and hashes).
import { basename } from 'node:path';
import { ApiError } from '@shared/errors';
import { normPath, type IndexedAdapter, type IndexedDataset, type IndexedModel, type IndexedRun } from './entries';
import type { IndexSnapshot } from './index-store';

export interface ListFilter {
  /** Imported model id, model path, or name (folder name / display name). */
  model?: string;
  /** Imported dataset id, dataset path, sha256, or name. */
  dataset?: string;
  /** ptplus | prefix | prompt | lora | full */
  method?: string;
  /** Runs: running | finished | cancelled | failed | interrupted | damaged. Adapters: ready. */
  status?: string;
  /** Entries carrying this tag. */
  tag?: string;
  /** 'created' (default), 'name', 'method', 'status', or 'metric:<name>' (e.g. metric:accuracy; missing last). */
  sort?: string;
  order?: 'asc' | 'desc';
  limit?: number;
}

type Listed = IndexedRun | IndexedAdapter;

/** Paths (normalised) and hashes a model filter value stands for. */
function modelKeys(value: string, models: IndexedModel[]): Set<string> {
  const keys = new Set<string>([normPath(value)!]);
  for (const m of models) {
    if (m.id === value || m.name === value || normPath(m.path) === normPath(value)) keys.add(normPath(m.path)!);
  }
  return keys;
}

function datasetKeys(value: string, datasets: IndexedDataset[]): { paths: Set<string>; hashes: Set<string> } {
  const paths = new Set<string>([normPath(value)!]);
  const hashes = new Set<string>([value.toLowerCase()]);
  for (const d of datasets) {
    if (d.id === value || d.name === value || d.sha256 === value || normPath(d.sourcePath) === normPath(value) || normPath(d.dir) === normPath(value)) {
      paths.add(normPath(d.dir)!);
      if (d.sourcePath) paths.add(normPath(d.sourcePath)!);
      if (d.sha256) hashes.add(d.sha256);
    }
  }
  return { paths, hashes };
}

/** True when a run/adapter's recorded dataset path lies in (or is) one of `paths`. */
function pathMatches(recorded: string | null, paths: Set<string>): boolean {
  const p = normPath(recorded);
  if (!p) return false;
  for (const key of paths) if (p === key || p.startsWith(`${key}/`) || p.startsWith(`${key}\\`)) return true;
  return false;
}

export function applyFilter<T extends Listed>(items: T[], filter: ListFilter, snapshot: Pick<IndexSnapshot, 'models' | 'datasets'>): T[] {
  let out = items;
  if (filter.model) {
    const keys = modelKeys(filter.model, snapshot.models);
    const value = filter.model;
    out = out.filter((e) => (e.modelPath !== null && keys.has(normPath(e.modelPath)!)) || (e.modelPath !== null && basename(e.modelPath) === value));
  }
  if (filter.dataset) {
    const { paths, hashes } = datasetKeys(filter.dataset, snapshot.datasets);
    out = out.filter((e) => pathMatches(e.datasetPath, paths) || (e.datasetSha256 !== null && hashes.has(e.datasetSha256)));
  }
  if (filter.method) out = out.filter((e) => e.method === filter.method);
  if (filter.status) out = out.filter((e) => e.status === filter.status);
  if (filter.tag) out = out.filter((e) => e.tags.includes(filter.tag!));
  out = sortEntries(out, filter.sort ?? 'created', filter.order);
  if (filter.limit !== undefined) {
    if (!Number.isInteger(filter.limit) || filter.limit < 0) throw new ApiError('invalid_argument', 'limit must be a non-negative integer', { field: 'limit' });
    out = out.slice(0, filter.limit);
  }
  return out;
}

function sortEntries<T extends Listed>(items: T[], sort: string, order?: 'asc' | 'desc'): T[] {
  const key = (e: T): string | number | null => {
    if (sort === 'created') return e.createdAt;
    if (sort === 'name') return e.name.toLowerCase();
    if (sort === 'method') return e.method;
    if (sort === 'status') return e.status;
    if (sort.startsWith('metric:')) return e.metrics[sort.slice('metric:'.length)] ?? null;
    throw new ApiError('invalid_argument', `cannot sort by "${sort}" (use created, name, method, status or metric:<name>)`, { field: 'sort' });
  };
  // Newest first and best metric first read naturally; names and words ascend.
  const direction = (order ?? (sort === 'created' || sort.startsWith('metric:') ? 'desc' : 'asc')) === 'asc' ? 1 : -1;
  return [...items].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka === null || kb === null) return ka === kb ? a.id.localeCompare(b.id) : ka === null ? 1 : -1; // missing values last
    const cmp = typeof ka === 'number' && typeof kb === 'number' ? ka - kb : String(ka).localeCompare(String(kb));
    return cmp !== 0 ? cmp * direction : a.id.localeCompare(b.id);
  });
}
