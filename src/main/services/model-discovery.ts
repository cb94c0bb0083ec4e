// Finds models where people's tools keep them and reads them in place (never copied): the Hugging Face hub cache,
// Ollama's store, LM Studio's folders, and folders the user names (`prefixlab model list --discover`). Only headers
// are read; every store is walked to a bounded depth and entry count; a broken model is an entry with `error`.
import { realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { scanFolderTree } from './discovery/folders';
import { scanHfCache } from './discovery/hf-cache';
import { lmStudioRoots, scanLmStudio } from './discovery/lmstudio';
import { scanOllama } from './discovery/ollama';
import { DISCOVERY_LIMITS, errorLine, ScanBudget, type DiscoveredModel, type DiscoveryResult, type DiscoverySource } from './discovery/types';

export type { DiscoveredModel, DiscoveryResult, DiscoverySource } from './discovery/types';

export interface DiscoveryOptions {
  /** Environment to read store variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The user's home folder (default os.homedir()). */
  home?: string;
  /** Folders the user adds, scanned for .gguf files and Hugging Face layout folders. */
  folders?: string[];
}

interface StoreRoot {
  source: DiscoverySource;
  path: string;
  /** The variable that named it; a named root that does not exist is worth a warning, a default one is not. */
  fromVariable?: string;
  /** Given by the user: a missing one is worth a warning. */
  explicit?: boolean;
}

/** Where each store lives. An unset or empty variable means its default, as in the tools themselves. */
export function storeLocations(env: NodeJS.ProcessEnv, home: string): StoreRoot[] {
  const set = (name: string): string | undefined => (env[name] ? expandHome(env[name]!, home) : undefined);
  // huggingface_hub: HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
  const hfHub = set('HF_HUB_CACHE');
  const hfHome = set('HF_HOME');
  const xdg = set('XDG_CACHE_HOME');
  const hf: StoreRoot = hfHub
    ? { source: 'huggingface', path: hfHub, fromVariable: 'HF_HUB_CACHE' }
    : hfHome
      ? { source: 'huggingface', path: join(hfHome, 'hub'), fromVariable: 'HF_HOME' }
      : { source: 'huggingface', path: join(xdg ?? join(home, '.cache'), 'huggingface', 'hub') };
  const ollamaDir = set('OLLAMA_MODELS');
  const ollama: StoreRoot = ollamaDir ? { source: 'ollama', path: ollamaDir, fromVariable: 'OLLAMA_MODELS' } : { source: 'ollama', path: join(home, '.ollama', 'models') };
  return [hf, ollama, ...lmStudioRoots(home).map((path): StoreRoot => ({ source: 'lmstudio', path }))];
}

function expandHome(value: string, home: string): string {
  return value === '~' || value.startsWith('~/') ? join(home, value.slice(1)) : resolve(value);
}

export async function discoverModels(options: DiscoveryOptions = {}): Promise<DiscoveryResult> {
  const home = options.home ?? os.homedir();
  const roots = [
    ...storeLocations(options.env ?? process.env, home),
    ...(options.folders ?? []).map((path): StoreRoot => ({ source: 'folder', path: resolve(path), explicit: true })),
  ];
  const warnings: string[] = [];
  const models: DiscoveredModel[] = [];
  const seenRoots = new Set<string>();
  for (const root of roots) {
    let real: string;
    try {
      real = realpathSync(root.path);
      if (!statSync(real).isDirectory()) throw Object.assign(new Error('not a folder'), { notFolder: true });
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      if (root.explicit)
        warnings.push(`${root.path}: ${missing ? 'folder does not exist' : (err as { notFolder?: boolean }).notFolder ? 'is a file, not a folder' : errorLine(err)}`);
      else if (root.fromVariable) warnings.push(`${root.path}: ${root.fromVariable} names this folder, but ${missing ? 'it does not exist' : 'it cannot be read as a folder'}`);
      continue; // a default store that is absent: that tool is not installed
    }
    if (seenRoots.has(real)) continue; // ~/.cache/lm-studio linked to ~/.lmstudio, a folder given twice
    seenRoots.add(real);
    const budget = new ScanBudget();
    try {
      const found =
        root.source === 'huggingface'
          ? await scanHfCache(real, budget, warnings)
          : root.source === 'ollama'
            ? await scanOllama(real, budget, warnings)
            : root.source === 'lmstudio'
              ? await scanLmStudio(real, budget, warnings)
              : await scanFolderTree(real, 'folder', budget, warnings);
      models.push(...found);
    } catch (err) {
      warnings.push(`${root.source} scan of ${root.path} failed: ${errorLine(err, root.path)}`);
    }
    if (budget.exhausted) {
      warnings.push(
        `${root.path}: scan stopped after ${DISCOVERY_LIMITS.entriesPerRoot.toLocaleString('en-US')} folder entries or ${DISCOVERY_LIMITS.modelsPerRoot} models; name a narrower folder`,
      );
    }
  }
  return { models: dedupe(models), warnings };
}

/** One entry per file or folder on disk: a user folder that overlaps a store lists its models once, under the store. */
function dedupe(models: DiscoveredModel[]): DiscoveredModel[] {
  const seen = new Set<string>();
  return models.filter((m) => {
    let key = m.path;
    try {
      key = realpathSync(m.path);
    } catch {
      // a broken entry's path may not exist; its own path is its key
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
