// File paths from clients are accepted only inside folders the user picked (serve --root, Electron's
// file dialog) or the app's data folder; `..` and symlinks that lead out of them are refused.
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { ApiError } from '@shared/errors';

export class PathGuard {
  private readonly roots = new Set<string>();

  constructor(roots: string[] = []) {
    for (const root of roots) this.allow(root);
  }

  /** Adds a folder (or a picked file's folder) to what clients may read. */
  allow(path: string): void {
    this.roots.add(realOrSelf(resolve(path)));
  }

  allowedRoots(): string[] {
    return [...this.roots];
  }

  /** The real absolute path when it lies inside an allowed root; throws 'forbidden' otherwise. */
  check(path: string, field = 'path'): string {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw new ApiError('invalid_argument', 'a file path is required', { field });
    }
    if (!isAbsolute(path)) throw new ApiError('invalid_argument', `"${path}" is not an absolute path`, { field });
    const real = realOrSelf(resolve(path));
    for (const root of this.roots) {
      const rel = relative(root, real);
      if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..'))) return real;
    }
    throw new ApiError('forbidden', `"${path}" is outside the folders you picked; choose it with the file picker first`, { field });
  }
}

/** realpath of the path, or of its nearest existing parent joined with the rest (for files not yet written). */
function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    if (parent === path) return path;
    return resolve(realOrSelf(parent), relative(parent, path));
  }
}
