// Imported models: one folder per model, <home>/models/<id>/manifest.json {id, name, path, format, card,
// importedAt}. The weights stay where the user keeps them; the manifest only points at them. Deleting goes
// through the registry (registry/edits.ts), which names the runs and adapters that depend on a model.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { ModelEntrySchema, type ModelEntry } from '@shared/contract/calls/models';
import { writeJsonAtomic } from '../platform/atomic-write';

export class ModelStore {
  constructor(private readonly home: string) {}

  get dir(): string {
    return join(this.home, 'models');
  }

  /** Every readable manifest, newest first; unreadable ones are skipped (a half-deleted folder must not break the list). */
  async list(): Promise<ModelEntry[]> {
    if (!existsSync(this.dir)) return [];
    const entries: ModelEntry[] = [];
    for (const id of await readdir(this.dir)) {
      const entry = await this.read(id).catch(() => null);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => b.importedAt.localeCompare(a.importedAt));
  }

  async get(id: string): Promise<ModelEntry> {
    const entry = await this.read(id).catch(() => null);
    if (!entry) throw new ApiError('not_found', `no imported model "${id}"; import it in the Models view first`, { field: 'modelId' });
    return entry;
  }

  /** The existing entry for a path, so importing the same folder twice does not duplicate it. */
  async findByPath(path: string): Promise<ModelEntry | undefined> {
    return (await this.list()).find((entry) => entry.path === path);
  }

  async add(entry: Omit<ModelEntry, 'id' | 'importedAt'>): Promise<ModelEntry> {
    const id = `${slug(entry.name)}-${randomBytes(3).toString('hex')}`;
    const full: ModelEntry = ModelEntrySchema.parse({ ...entry, id, importedAt: new Date().toISOString() });
    await mkdir(join(this.dir, id), { recursive: true });
    await writeJsonAtomic(join(this.dir, id, 'manifest.json'), full);
    return full;
  }

  private async read(id: string): Promise<ModelEntry> {
    const text = await readFile(join(this.dir, id, 'manifest.json'), 'utf8');
    return ModelEntrySchema.parse(JSON.parse(text));
  }
}

export function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
  return s || 'model';
}
