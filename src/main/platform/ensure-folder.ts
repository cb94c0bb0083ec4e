// Creates a folder and its missing parents one level at a time, so a failure names the folder that refused
// and the real cause (a read-only file system reports ENOENT or EROFS depending on the path; see
// system-errors.ts). Node's recursive mkdir also spins forever where mkdir answers ENOENT under an existing
// parent (/proc); walking the levels ourselves cannot.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ApiError } from '@shared/errors';
import { fromSystemError } from './system-errors';

function isFolder(path: string): boolean | null {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    // ENOTDIR: a file further up; the walk reaches it and names it.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw fromSystemError(err, path);
  }
}

/** Makes `path` (absolute or relative) exist as a folder; a one-line ApiError naming the culprit otherwise. */
export function ensureFolder(path: string): string {
  const target = resolve(path);
  const missing: string[] = [];
  let dir = target;
  for (;;) {
    const state = isFolder(dir);
    if (state === true) break;
    if (state === false) throw new ApiError('invalid_argument', `${dir === target ? 'exists' : 'is in the path'} but is not a folder`, { file: dir });
    missing.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && isFolder(level)) continue;
      throw fromSystemError(err, level);
    }
  }
  return target;
}
