// A fake home laid out like the model stores users' tools keep (Hugging Face hub cache with blobs, snapshot
// symlinks and refs/main; Ollama manifests and blobs), holding the tiny fixture models, for the discovery tests
// of the app (handler units and the workbench e2e). Point a process at it with `env`.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/models');

export interface FakeStores {
  /** HOME, HF_HUB_CACHE, OLLAMA_MODELS (and XDG_CACHE_HOME, HF_HOME cleared) for the process that scans. */
  env: Record<string, string>;
  home: string;
  /** Snapshot folders: the tiny llama (no chat template) and the tiny qwen2 (ChatML template). */
  llamaSnapshot: string;
  qwenSnapshot: string;
}

function put(path: string, data: string | Uint8Array): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** models--ORG--NAME as huggingface_hub writes it: files in blobs/ named by hash, snapshot symlinks to them, refs/main. */
function hfRepo(hub: string, repoId: string, fixture: string): string {
  const repo = join(hub, `models--${repoId.replace('/', '--')}`);
  const revision = createHash('sha1').update(repoId).digest('hex');
  const snapshot = join(repo, 'snapshots', revision);
  mkdirSync(snapshot, { recursive: true });
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  for (const file of readdirSync(join(FIXTURES, fixture))) {
    if (file === 'reference.json') continue;
    const bytes = readFileSync(join(FIXTURES, fixture, file));
    const hash = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(repo, 'blobs', hash), bytes);
    symlinkSync(join('..', '..', 'blobs', hash), join(snapshot, file));
  }
  put(join(repo, 'refs', 'main'), revision);
  return snapshot;
}

/** An Ollama manifest whose model layer names a blob that is not there (a pull interrupted, blobs pruned). */
function ollamaMissingBlob(root: string, name: string, tag: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  mkdirSync(join(root, 'blobs'), { recursive: true });
  return put(
    join(root, 'manifests', 'registry.ollama.ai', 'library', name, tag),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
      layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: 1024 }],
    }),
  );
}

/**
 * Under `root`: home/ (an empty home: no LM Studio), hf-hub/ with prefixlab/llama-gqa and prefixlab/qwen2-chat,
 * ollama/ with missing-blob:latest, whose blob is gone (a broken entry).
 */
export function makeFakeStores(root: string): FakeStores {
  const home = join(root, 'home');
  mkdirSync(home, { recursive: true });
  const hub = join(root, 'hf-hub');
  const ollama = join(root, 'ollama');
  const llamaSnapshot = hfRepo(hub, 'prefixlab/llama-gqa', 'llama-gqa');
  const qwenSnapshot = hfRepo(hub, 'prefixlab/qwen2-chat', 'qwen2');
  ollamaMissingBlob(ollama, 'missing-blob', 'latest');
  return { env: { HOME: home, HF_HUB_CACHE: hub, OLLAMA_MODELS: ollama, HF_HOME: '', XDG_CACHE_HOME: '' }, home, llamaSnapshot, qwenSnapshot };
}
