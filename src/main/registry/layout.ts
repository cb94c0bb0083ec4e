// Where the registry keeps things under <home>: one folder per entry (models/, datasets/, runs/, adapters/),
// each with a manifest.json, plus index.json. Ids are folder names, so they are checked before any path use.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';

export type EntryKind = 'model' | 'dataset' | 'run' | 'adapter';

export const ENTRY_KINDS: readonly EntryKind[] = ['model', 'dataset', 'run', 'adapter'];

/** Folder under <home> per kind. */
export const KIND_DIRS: Record<EntryKind, string> = { model: 'models', dataset: 'datasets', run: 'runs', adapter: 'adapters' };

export const MANIFEST_FILE = 'manifest.json';
/** User labels (name, tags, notes) kept beside a manifest so provenance manifests are never rewritten. */
export const LABELS_FILE = 'labels.json';
export const ADAPTER_TENSORS_FILE = 'adapter.safetensors';
export const INDEX_FILE = 'index.json';
/** Deleted folders are renamed here first (atomic), then removed. */
export const TRASH_DIR = '.trash';

/** Ids are folder names: letters, digits, '.', '_' and '-', not starting with '.' (no separators, no '..'). */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id) && !id.includes('..');
}

/** Throws a one-line ApiError unless `id` can name a registry folder. */
export function checkId(id: unknown, field = 'id'): string {
  if (!isValidId(id)) throw new ApiError('invalid_argument', `${JSON.stringify(id)} is not a valid id (letters, digits, '.', '_', '-')`, { field });
  return id;
}

export function kindDir(home: string, kind: EntryKind): string {
  return join(home, KIND_DIRS[kind]);
}

export function entryDir(home: string, kind: EntryKind, id: string): string {
  return join(kindDir(home, kind), checkId(id));
}

export function manifestPath(home: string, kind: EntryKind, id: string): string {
  return join(entryDir(home, kind, id), MANIFEST_FILE);
}

/** A lower-case slug of a display name (at most 48 characters), or `fallback`. */
export function slugify(name: string, fallback: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48)
    .replace(/-+$/g, '');
  return slug || fallback;
}

/** A new id: slug of the name plus 6 random hex digits (matches the models' id pattern). */
export function newId(name: string, fallback: string): string {
  return `${slugify(name, fallback)}-${randomBytes(3).toString('hex')}`;
}
