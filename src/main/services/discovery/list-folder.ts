// Reads a folder's entries against the scan's budget (opendir, one entry at a time: a folder with millions of
// entries costs no more than the cap). Symlinked folders are reported apart so a walk never follows a loop.
import { opendirSync } from 'node:fs';
import type { ScanBudget } from './types';

export interface FolderListing {
  /** Every entry name read (files, folders, symlinks). */
  names: string[];
  /** Real sub-folders (not symlinks). */
  folders: string[];
}

export function listFolder(dir: string, budget: ScanBudget): FolderListing {
  const names: string[] = [];
  const folders: string[] = [];
  const handle = opendirSync(dir);
  try {
    for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
      if (!budget.take()) break;
      names.push(entry.name);
      if (entry.isDirectory()) folders.push(entry.name);
    }
  } finally {
    handle.closeSync();
  }
  names.sort();
  folders.sort();
  return { names, folders };
}
