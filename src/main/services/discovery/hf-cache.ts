// The Hugging Face hub cache (huggingface_hub's layout): models--ORG--NAME/{blobs/, refs/main, snapshots/REV/}, where
// snapshot files are symlinks into blobs/. The revision refs/main names is the model; without refs/main (downloaded
// by commit) every snapshot is listed. A snapshot with config.json + safetensors is one model, each .gguf in it another.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '@shared/errors';
import { readBoundedText } from '../../engine/io/bounded-read';
import { scanFolderTree } from './folders';
import { listFolder } from './list-folder';
import { brokenEntry, DISCOVERY_LIMITS, errorLine, type DiscoveredModel, type ScanBudget } from './types';

/** A revision is a commit hash or a branch/tag name; never a path. */
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export async function scanHfCache(root: string, budget: ScanBudget, warnings: string[]): Promise<DiscoveredModel[]> {
  const models: DiscoveredModel[] = [];
  for (const repo of listFolder(root, budget).folders) {
    if (!repo.startsWith('models--')) continue; // datasets--, spaces--, .locks
    // huggingface_hub's own reading of the folder name (scan_cache_dir): "--" separates org and name.
    const repoId = repo.slice('models--'.length).split('--').join('/');
    const repoDir = join(root, repo);
    try {
      for (const { snapshot, label } of snapshotsOf(repoDir, repoId, budget)) {
        models.push(...(await scanFolderTree(snapshot, 'huggingface', budget, warnings, label)));
      }
    } catch (err) {
      if (!budget.addModel()) break;
      models.push(brokenEntry({ name: repoId, path: repoDir, format: 'hf', source: 'huggingface' }, errorLine(err, repoDir)));
    }
  }
  return models;
}

function snapshotsOf(repoDir: string, repoId: string, budget: ScanBudget): { snapshot: string; label: string }[] {
  const refPath = join(repoDir, 'refs', 'main');
  if (existsSync(refPath)) {
    const revision = readBoundedText(refPath, 1024).trim();
    if (!REVISION.test(revision)) throw new ApiError('bad_file', `refs/main holds ${JSON.stringify(revision.slice(0, 60))}, not a revision`, { file: refPath });
    const snapshot = join(repoDir, 'snapshots', revision);
    if (!isFolder(snapshot)) {
      throw new ApiError('not_found', `refs/main names revision ${revision}, but snapshots/${revision} is missing (download incomplete or cache pruned?)`, { file: refPath });
    }
    return [{ snapshot, label: repoId }];
  }
  const snapshotsDir = join(repoDir, 'snapshots');
  if (!isFolder(snapshotsDir)) throw new ApiError('not_found', 'neither refs/main nor snapshots/ is there (download incomplete?)', { file: repoDir });
  const revisions = listFolder(snapshotsDir, budget).folders.slice(0, DISCOVERY_LIMITS.snapshotsPerRepo);
  return revisions.map((revision) => ({ snapshot: join(snapshotsDir, revision), label: `${repoId}@${revision.slice(0, 7)}` }));
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
