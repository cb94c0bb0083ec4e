// A folder the user names (and LM Studio's model folders, which are plain trees publisher/repo/file.gguf): every
// .gguf file and every Hugging Face layout folder (config.json + weights) below it, breadth first, to a bounded
// depth and entry count. Hidden folders are skipped; symlinked folders are not followed (loops), symlinked files are.
import { join, relative, sep, basename } from 'node:path';
import { describeGguf, describeHfFolder, looksLikeHfFolder } from './describe-model';
import { listFolder } from './list-folder';
import { DISCOVERY_LIMITS, errorLine, type DiscoveredModel, type DiscoverySource, type ScanBudget } from './types';

const SKIPPED_FOLDERS = new Set(['node_modules', '__pycache__']);

/** `label`: the name of `root` itself in entry names (a Hugging Face repo id); by default names are relative to root. */
export async function scanFolderTree(root: string, source: DiscoverySource, budget: ScanBudget, warnings: string[], label?: string): Promise<DiscoveredModel[]> {
  const models: DiscoveredModel[] = [];
  const nameOf = (path: string): string => {
    const rel = relative(root, path).split(sep).join('/');
    if (label !== undefined) return rel ? `${label}/${rel}` : label;
    return rel || basename(root);
  };
  let level = [root];
  let deeper = false;
  for (let depth = 0; depth <= DISCOVERY_LIMITS.folderDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let listing;
      try {
        listing = listFolder(dir, budget);
      } catch (err) {
        // An unreadable sub-folder is named and skipped; the rest of the tree is still scanned.
        warnings.push(`${source} scan skipped ${errorLine(err, dir)}`);
        continue;
      }
      if (looksLikeHfFolder(dir, listing.names)) {
        if (!budget.addModel()) return models;
        models.push(describeHfFolder(dir, listing.names, nameOf(dir), source));
        continue; // a model folder's sub-folders (onnx/, original/) are its own files, not more models
      }
      for (const name of listing.names) {
        if (!name.toLowerCase().endsWith('.gguf') || listing.folders.includes(name)) continue;
        if (!budget.addModel()) return models;
        const path = join(dir, name);
        models.push(await describeGguf(path, nameOf(path), source));
      }
      const below = listing.folders.filter((f) => !f.startsWith('.') && !SKIPPED_FOLDERS.has(f));
      // The deepest level is read for models but not descended.
      if (depth === DISCOVERY_LIMITS.folderDepth) deeper ||= below.length > 0;
      else next.push(...below.map((f) => join(dir, f)));
    }
    level = next;
  }
  if (deeper) warnings.push(`${root}: folders more than ${DISCOVERY_LIMITS.folderDepth} levels deep were not scanned`);
  return models;
}
