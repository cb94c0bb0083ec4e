// Discovery on fake homes laid out like each store (Hugging Face hub cache with blobs, snapshot symlinks and
// refs/main; Ollama manifests and blobs; LM Studio trees; a user folder), with tiny real model files, and the
// broken cases each listed with a one-line reason while the scan completes.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cli } from '../cli/cli-harness';
import { SafetensorsReader } from '../engine/io/safetensors';
import { writeTinyGguf } from '../engine/io/gguf/tiny-gguf-writer';
import { discoverModels, storeLocations, type DiscoveredModel } from './model-discovery';

const FIXTURE = join(import.meta.dirname, '../../../tests/fixtures/models/llama-gqa');
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-discovery-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A tiny llama GGUF: one F32 norm (8 values) and one Q8_0 matrix (32 × 2), 72 parameters. */
function tinyGguf(): Uint8Array {
  const q8 = new Uint8Array(34 * 2);
  return writeTinyGguf({
    metadata: { 'general.architecture': { type: 'string', value: 'llama' } },
    tensors: [
      { name: 'norm.weight', shape: [8], typeId: 0, data: new Uint8Array(32) },
      { name: 'blk.0.attn_q.weight', shape: [32, 2], typeId: 8, data: q8 },
    ],
  });
}

function put(path: string, data: string | Uint8Array): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

function fixtureParameters(): number {
  const reader = SafetensorsReader.open(join(FIXTURE, 'model.safetensors'));
  try {
    return [...reader.tensors.values()].reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  } finally {
    reader.close();
  }
}

/** models--ORG--NAME laid out as huggingface_hub writes it: files in blobs/ named by hash, snapshot symlinks to them. */
function hfRepo(hub: string, repoId: string, revision: string, files: string[], ref: string | null = revision): string {
  const repo = join(hub, `models--${repoId.replace('/', '--')}`);
  const snapshot = join(repo, 'snapshots', revision);
  mkdirSync(snapshot, { recursive: true });
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  for (const file of files) {
    const bytes = readFileSync(join(FIXTURE, file));
    const hash = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(repo, 'blobs', hash), bytes);
    symlinkSync(join('..', '..', 'blobs', hash), join(snapshot, file));
  }
  if (ref !== null) put(join(repo, 'refs', 'main'), ref);
  return snapshot;
}

/** An Ollama manifest whose model layer names `blob` (written to blobs/ unless null). */
function ollamaModel(root: string, name: string, tag: string, blob: Uint8Array | null, digestOf: Uint8Array = blob ?? new Uint8Array([1])): string {
  const hex = createHash('sha256').update(digestOf).digest('hex');
  if (blob) put(join(root, 'blobs', `sha256-${hex}`), blob);
  return put(
    join(root, 'manifests', 'registry.ollama.ai', 'library', name, tag),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
      layers: [
        { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: digestOf.length },
        { mediaType: 'application/vnd.ollama.image.license', digest: `sha256:${'1'.repeat(64)}`, size: 10 },
      ],
    }),
  );
}

function byName(models: DiscoveredModel[], name: string): DiscoveredModel {
  const found = models.find((m) => m.name === name);
  expect(found, `${name} in ${models.map((m) => m.name).join(', ')}`).toBeDefined();
  return found!;
}

/** A broken entry's reason: one line, naming `file`, no raw errno or stack. */
function expectOneLineError(model: DiscoveredModel, file: string, cause: RegExp): void {
  expect(model.error).toBeDefined();
  expect(model.error).not.toContain('\n');
  expect(model.error).toContain(file);
  expect(model.error).toMatch(cause);
  expect(model.error).not.toMatch(/ENOENT|at .*\.ts:\d+/);
}

describe('discoverModels in a fake home', () => {
  const home = join(tmp, 'home');
  const ollamaRoot = join(tmp, 'ollama-models');
  const userFolder = join(tmp, 'my-models');
  const env = { OLLAMA_MODELS: ollamaRoot, HF_HUB_CACHE: '' };
  const gguf = tinyGguf();
  const hub = join(home, '.cache', 'huggingface', 'hub');

  const snapshot = hfRepo(hub, 'tiny/llama-gqa', 'a'.repeat(40), ['config.json', 'model.safetensors', 'tokenizer.json']);
  hfRepo(hub, 'tiny/gone', 'b'.repeat(40), ['config.json', 'model.safetensors'], 'c'.repeat(40)); // refs/main names a missing snapshot
  put(join(hub, 'datasets--someone--data', 'snapshots', 'd'.repeat(40), 'train.jsonl'), '{}\n'); // not a model
  const ollamaBlob = join(ollamaRoot, 'blobs', `sha256-${createHash('sha256').update(gguf).digest('hex')}`);
  ollamaModel(ollamaRoot, 'tiny', 'latest', gguf);
  const ghost = ollamaModel(ollamaRoot, 'ghost', '7b', null, new Uint8Array([9, 9, 9]));
  const garbled = put(join(ollamaRoot, 'manifests', 'registry.ollama.ai', 'library', 'garbled', 'latest'), '{"layers": [');
  const lmGguf = put(join(home, '.lmstudio', 'models', 'pub', 'tiny-GGUF', 'tiny-Q8_0.gguf'), gguf);
  const truncated = put(join(home, '.lmstudio', 'models', 'pub', 'tiny-GGUF', 'tiny-cut.gguf'), gguf.subarray(0, 40));
  const userHf = join(userFolder, 'llama-copy');
  for (const f of ['config.json', 'model.safetensors']) put(join(userHf, f), readFileSync(join(FIXTURE, f)));
  put(join(userFolder, 'nested', 'deeper', 'tiny.gguf'), gguf);

  it('finds each store’s models with architecture, parameters, quantization and size, read in place', async () => {
    const { models, warnings } = await discoverModels({ home, env, folders: [userFolder] });
    expect(warnings).toEqual([]);
    const params = fixtureParameters();

    expect(byName(models, 'tiny/llama-gqa')).toEqual({
      name: 'tiny/llama-gqa',
      path: snapshot,
      format: 'hf',
      architecture: 'llama',
      parameters: params,
      quantization: { F32: expect.any(Number) },
      source: 'huggingface',
      sizeBytes: readFileSync(join(FIXTURE, 'model.safetensors')).length,
    });
    expect(byName(models, 'tiny:latest')).toEqual({
      name: 'tiny:latest',
      path: ollamaBlob,
      format: 'gguf',
      architecture: 'llama',
      parameters: 72,
      quantization: { F32: 1, Q8_0: 1 },
      source: 'ollama',
      sizeBytes: gguf.length,
    });
    expect(byName(models, 'pub/tiny-GGUF/tiny-Q8_0.gguf')).toMatchObject({ path: lmGguf, source: 'lmstudio', format: 'gguf', parameters: 72 });
    expect(byName(models, 'llama-copy')).toMatchObject({ path: userHf, source: 'folder', format: 'hf', architecture: 'llama', parameters: params });
    expect(byName(models, 'nested/deeper/tiny.gguf')).toMatchObject({ source: 'folder', parameters: 72, quantization: { F32: 1, Q8_0: 1 } });
    expect(models.some((m) => m.name.includes('someone'))).toBe(false);
  });

  it('lists each broken entry with a one-line reason and completes the scan', async () => {
    const { models } = await discoverModels({ home, env, folders: [userFolder] });
    const gone = byName(models, 'tiny/gone');
    expectOneLineError(gone, join(hub, 'models--tiny--gone', 'refs', 'main'), /names revision c{40}, but snapshots\/c{40} is missing/);
    expect(gone).toMatchObject({ source: 'huggingface', parameters: null, architecture: null });
    expectOneLineError(byName(models, 'ghost:7b'), ghost, /model blob blobs\/sha256-[0-9a-f]{64} this manifest names is missing.*ollama pull ghost:7b/);
    expectOneLineError(byName(models, 'garbled:latest'), garbled, /not valid JSON/);
    expectOneLineError(byName(models, 'pub/tiny-GGUF/tiny-cut.gguf'), truncated, /invalid GGUF file/);
    // The good ones are still there.
    expect(models.filter((m) => !m.error).map((m) => m.name)).toHaveLength(5);
  });

  it('reads a snapshot whose weights blob is missing as broken, naming the file', async () => {
    const otherHub = join(tmp, 'hub-partial');
    const snap = hfRepo(otherHub, 'tiny/partial', 'e'.repeat(40), ['config.json', 'model.safetensors']);
    rmSync(join(otherHub, 'models--tiny--partial', 'blobs'), { recursive: true }); // dangling snapshot symlinks
    const { models } = await discoverModels({ home: join(tmp, 'empty-home'), env: { HF_HUB_CACHE: otherHub } });
    expect(models).toHaveLength(1);
    expectOneLineError(models[0]!, join(snap, 'config.json'), /missing/);
  });

  it('lists every snapshot when refs/main is absent', async () => {
    const otherHub = join(tmp, 'hub-norefs');
    hfRepo(otherHub, 'tiny/pinned', 'f'.repeat(40), ['config.json', 'model.safetensors'], null);
    const { models } = await discoverModels({ home: join(tmp, 'empty-home'), env: { HF_HUB_CACHE: otherHub } });
    expect(models.map((m) => [m.name, m.error])).toEqual([['tiny/pinned@fffffff', undefined]]);
  });

  it('warns, never fails, for a folder that does not exist or a store variable naming nothing', async () => {
    const missing = join(tmp, 'nope');
    const { models, warnings } = await discoverModels({ home: join(tmp, 'empty-home'), env: { OLLAMA_MODELS: join(tmp, 'no-ollama') }, folders: [missing] });
    expect(models).toEqual([]);
    expect(warnings).toEqual([`${join(tmp, 'no-ollama')}: OLLAMA_MODELS names this folder, but it does not exist`, `${missing}: folder does not exist`]);
  });
});

describe('storeLocations', () => {
  const home = '/home/u';
  const paths = (env: NodeJS.ProcessEnv): string[] => storeLocations(env, home).map((r) => `${r.source}:${r.path}`);

  it('uses the defaults when variables are unset or empty', () => {
    const defaults = [
      'huggingface:/home/u/.cache/huggingface/hub',
      'ollama:/home/u/.ollama/models',
      'lmstudio:/home/u/.lmstudio/models',
      'lmstudio:/home/u/.cache/lm-studio/models',
    ];
    expect(paths({})).toEqual(defaults);
    expect(paths({ HF_HUB_CACHE: '', HF_HOME: '', OLLAMA_MODELS: '', XDG_CACHE_HOME: '' })).toEqual(defaults);
  });

  it('follows HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME, and OLLAMA_MODELS', () => {
    expect(paths({ HF_HUB_CACHE: '/c/hub', HF_HOME: '/h', OLLAMA_MODELS: '/o' }).slice(0, 2)).toEqual(['huggingface:/c/hub', 'ollama:/o']);
    expect(paths({ HF_HOME: '~/hf' })[0]).toBe('huggingface:/home/u/hf/hub');
    expect(paths({ XDG_CACHE_HOME: '/x' })[0]).toBe('huggingface:/x/huggingface/hub');
  });
});

describe('prefixlab model list', () => {
  const home = join(tmp, 'cli-home');
  const gguf = tinyGguf();
  beforeEach(() => {
    for (const name of ['HF_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME', 'OLLAMA_MODELS']) vi.stubEnv(name, '');
    vi.stubEnv('HOME', home);
  });
  afterEach(() => vi.unstubAllEnvs());
  const ollamaRoot = join(home, '.ollama', 'models');
  ollamaModel(ollamaRoot, 'tiny', 'latest', gguf);
  const ghost = ollamaModel(ollamaRoot, 'ghost', 'latest', null);
  const folder = join(tmp, 'cli-folder');
  put(join(folder, 'a.gguf'), gguf);

  it('--discover --json prints {models} with broken entries listed', async () => {
    const { code, stdout, stderr } = await cli(['model', 'list', '--discover', '--folder', folder, '--json', '--home', join(tmp, 'data')]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const { models } = JSON.parse(stdout) as { models: DiscoveredModel[] };
    expect(models.map((m) => `${m.source} ${m.name} ${m.parameters}`).sort()).toEqual(['folder a.gguf 72', 'ollama ghost:latest null', 'ollama tiny:latest 72']);
    expect(byName(models, 'ghost:latest').error).toContain(ghost);
  });

  it('prints a table and the broken entries without --json', async () => {
    const { code, stdout } = await cli(['model', 'list', '--discover', '--folder', folder, '--home', join(tmp, 'data')]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^source\s+name\s+format\s+architecture\s+parameters\s+quantization\s+size\s+path$/);
    expect(stdout).toMatch(/ollama\s+tiny:latest\s+gguf\s+llama\s+72\s+F32\/Q8_0|ollama\s+tiny:latest\s+gguf\s+llama\s+72\s+Q8_0\/F32/);
    expect(stdout).toContain(`ollama ghost:latest: ${ghost}: `);
  });

  it('without --discover lists imported models; --folder alone is refused in one line', async () => {
    const listed = await cli(['model', 'list', '--json', '--home', join(tmp, 'data')]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ models: [] });
    const refused = await cli(['model', 'list', '--folder', folder, '--home', join(tmp, 'data')]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/--folder.*--discover/);
  });
});
