// The marker an export leaves in its folder (.prefixlab-export.json: format, source id and every file it
// wrote), so that `--force` can tell an earlier export from a user's folder: force replaces only an empty
// folder or one holding nothing but what the marker lists, and removes only those files.
import { lstatSync, readdirSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { writeJsonAtomic } from '../platform/atomic-write';

export const EXPORT_MARKER_FILE = '.prefixlab-export.json';
const MARKER_MAX_BYTES = 1 << 20;
/** An export writes a handful of files; a folder with more than this is not one we wrote. */
const MAX_ENTRIES = 10_000;

export interface ExportMarker {
  version: 1;
  writtenBy: 'PrefixLab';
  format: string;
  source: string;
  /** Every file the export wrote, relative, '/'-separated (the marker itself excluded). */
  files: string[];
}

/** Files under `dir` (relative, '/'-separated; symlinks and other non-folders count as files), at most `limit`. */
function listTree(dir: string, limit = MAX_ENTRIES): { files: string[]; truncated: boolean } {
  const files: string[] = [];
  const walk = (rel: string): boolean => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!walk(path)) return false;
      } else {
        files.push(path);
        if (files.length >= limit) return false;
      }
    }
    return true;
  };
  const complete = walk('');
  return { files: files.sort(), truncated: !complete };
}

/** Writes the marker listing every file now in `dir`. */
export async function writeExportMarker(dir: string, fields: { format: string; source: string }): Promise<void> {
  const marker: ExportMarker = { version: 1, writtenBy: 'PrefixLab', ...fields, files: listTree(dir).files };
  await writeJsonAtomic(join(dir, EXPORT_MARKER_FILE), marker);
}

function readMarker(dir: string): ExportMarker | null {
  try {
    const path = join(dir, EXPORT_MARKER_FILE);
    if (!lstatSync(path).isFile() || lstatSync(path).size > MARKER_MAX_BYTES) return null;
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<ExportMarker>;
    if (raw?.version !== 1 || raw.writtenBy !== 'PrefixLab' || !Array.isArray(raw.files) || !raw.files.every((f) => typeof f === 'string')) return null;
    return raw as ExportMarker;
  } catch {
    return null;
  }
}

/**
 * Whether `--force` may replace the existing folder `dir`: the files an earlier export wrote (null when the
 * folder is empty), or a one-line ApiError naming what is not ours.
 */
export function replaceableExport(dir: string): ExportMarker | null {
  const { files, truncated } = listTree(dir);
  if (files.length === 0 && !truncated) return null;
  const marker = readMarker(dir);
  const ours = new Set(marker ? [...marker.files, EXPORT_MARKER_FILE] : []);
  const foreign = files.filter((f) => !ours.has(f));
  if (marker && foreign.length === 0 && !truncated) return marker;
  const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 || truncated ? ', …' : '');
  const why = marker ? `holds files the earlier export did not write (${shown})` : `is not an earlier PrefixLab export (no ${EXPORT_MARKER_FILE}) and is not empty (${shown})`;
  throw new ApiError('conflict', `output folder ${dir} ${why}; replacing it would delete them, so choose another folder or move them first`, { field: 'outDir' });
}

/** Deletes the files `marker` lists from `dir`, then its folders bottom-up; anything else stays (and so does its folder). */
export function removeExportFiles(dir: string, marker: ExportMarker | null): void {
  for (const rel of [...(marker?.files ?? []), EXPORT_MARKER_FILE]) {
    if (rel.split('/').some((part) => part === '..' || part === '')) continue;
    try {
      unlinkSync(join(dir, rel));
    } catch {
      /* already gone */
    }
  }
  const removeEmpty = (rel: string): void => {
    const path = join(dir, rel);
    for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) removeEmpty(rel ? `${rel}/${entry.name}` : entry.name);
    try {
      rmdirSync(path);
    } catch {
      /* not empty: something we did not write appeared; it is kept */
    }
  };
  removeEmpty('');
}
