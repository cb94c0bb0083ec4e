// Small file helpers the registry shares: tolerant JSON reads, user labels (name, tags, notes) and streamed
// sha256 of weight/data files, cached by path, size and mtime so a multi-GB model is hashed once.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { fromSystemError } from '../platform/system-errors';
import { writeJsonAtomic } from '../platform/atomic-write';
import { LABELS_FILE } from './layout';

/** Parsed JSON object at `path`, or null when the file is missing or unreadable (never throws). */
export function readJsonOrNull(path: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Parsed JSON object at `path`; a one-line ApiError naming the file otherwise. */
export function readJsonStrict(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ApiError('not_found', 'file is missing', { file: path });
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ApiError('bad_file', `not valid JSON: ${(err as Error).message}`, { file: path });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ApiError('bad_file', 'expected a JSON object', { file: path });
  return value as Record<string, unknown>;
}

// ---- labels ----

/** What a person adds to an entry; stored in labels.json beside the manifest. */
export interface Labels {
  /** Display name (overrides the manifest's name). */
  name?: string;
  tags: string[];
  notes: string;
}

export function readLabels(dir: string): Labels {
  const raw = readJsonOrNull(join(dir, LABELS_FILE)) ?? {};
  return {
    name: typeof raw.name === 'string' && raw.name.trim() ? raw.name : undefined,
    tags: Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === 'string') : [],
    notes: typeof raw.notes === 'string' ? raw.notes : '',
  };
}

export async function writeLabels(dir: string, labels: Labels): Promise<void> {
  await writeJsonAtomic(join(dir, LABELS_FILE), labels);
}

// ---- hashing ----

const hashCache = new Map<string, { size: number; mtimeMs: number; sha256: string }>();

/** Hex sha256 of a file, streamed; cached in-process by path + size + mtime. */
export async function sha256File(path: string): Promise<string> {
  try {
    return await hashFile(path);
  } catch (err) {
    throw fromSystemError(err, path);
  }
}

async function hashFile(path: string): Promise<string> {
  const st = statSync(path);
  const cached = hashCache.get(path);
  if (cached && cached.size === st.size && cached.mtimeMs === st.mtimeMs) return cached.sha256;
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(path);
    stream.on('data', (chunk) => hash.update(chunk));
    stream.on('error', reject);
    stream.on('end', () => resolve());
  });
  const sha256 = hash.digest('hex');
  hashCache.set(path, { size: st.size, mtimeMs: st.mtimeMs, sha256 });
  return sha256;
}

/** Hex sha256 of bytes in memory. */
export function sha256Bytes(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
