import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { listAdapters, listRuns, rebuildIndex, showAdapter, showRun } from '../services/registry-service';
import { createAdapterFromRun, readAdapterState, saveAdapter } from './adapter-store';
import { deleteEntry, renameEntry, setNotes, tagEntry } from './edits';
import { INDEX_FILE } from './layout';

const MODEL_PATH = '/models/tiny-llama';
const OTHER_MODEL_PATH = '/models/tiny-gpt2';

function writeJson(path: string, value: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 2));
}

/** A pid that certainly belongs to no live process: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

function runManifest(home: string, runId: string, fields: Record<string, unknown> = {}): void {
  writeJson(join(home, 'runs', runId, 'manifest.json'), {
    version: 1,
    runId,
    status: 'finished',
    method: 'lora',
    methodOptions: { rank: 4, alpha: 8 },
    trainer: { batchSize: 2 },
    learningRate: 1e-3,
    seed: 1,
    backend: 'cpu',
    appVersion: '0.1.0',
    pid: process.pid,
    hostname: hostname(),
    startedAt: '2025-01-01T00:00:00.000Z',
    endedAt: '2025-01-01T00:01:00.000Z',
    baseModel: { path: MODEL_PATH, architecture: 'llama', parameters: 1000, files: [{ path: 'model.safetensors', sha256: 'ab', bytes: 4 }] },
    dataset: { path: join(home, 'datasets', 'sst-aaaaaa'), sha256: 'd00d', kPerClass: 1, splitSeed: 0, trainIds: ['1', '2'], evalIds: ['3'] },
    trainableParams: 10,
    totalSteps: 4,
    step: 4,
    checkpoints: [],
    final: { trainLoss: 1.5, evalLoss: 1.7, accuracy: 0.5, perClassAccuracy: null, labels: null, confusion: null, evalExamples: 2 },
    ...fields,
  });
}

describe('registry', () => {
  let home: string;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'prefixlab-registry-'));
    writeJson(join(home, 'models', 'tiny-llama-111111', 'manifest.json'), {
      id: 'tiny-llama-111111',
      name: 'tiny-llama',
      path: MODEL_PATH,
      format: 'hf',
      card: { architecture: 'llama', parameters: 1000 },
      importedAt: '2025-01-01T00:00:00.000Z',
    });
    writeJson(join(home, 'models', 'tiny-gpt2-222222', 'manifest.json'), {
      id: 'tiny-gpt2-222222',
      name: 'tiny-gpt2',
      path: OTHER_MODEL_PATH,
      format: 'hf',
      card: { architecture: 'gpt2', parameters: 900 },
      importedAt: '2025-01-02T00:00:00.000Z',
    });
    writeJson(join(home, 'datasets', 'sst-aaaaaa', 'manifest.json'), {
      version: 1,
      id: 'sst-aaaaaa',
      name: 'sst',
      source: { path: '/data/sst.csv', sha256: 'd00d', bytes: 10 },
      task: 'classification',
      examples: 3,
      createdAt: '2025-01-01T00:00:00.000Z',
    });
    runManifest(home, 'run-a', { startedAt: '2025-01-01T00:00:00.000Z' });
    runManifest(home, 'run-b', { method: 'ptplus', startedAt: '2025-01-03T00:00:00.000Z', final: { accuracy: 0.9 } });
    runManifest(home, 'run-c', {
      method: 'prefix',
      status: 'running',
      pid: deadPid(),
      startedAt: '2025-01-02T00:00:00.000Z',
      baseModel: { path: OTHER_MODEL_PATH, architecture: 'gpt2', parameters: 900, files: [] },
      dataset: { path: '/elsewhere/other.jsonl', sha256: 'beef', trainIds: [], evalIds: [] },
    });
  });

  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lists runs from a rebuilt index, newest first, with dead running runs shown interrupted', async () => {
    expect(existsSync(join(home, INDEX_FILE))).toBe(false);
    const { runs } = await listRuns(home);
    expect(runs.map((r) => r.id)).toEqual(['run-b', 'run-c', 'run-a']);
    expect(runs.find((r) => r.id === 'run-c')!.status).toBe('interrupted');
    expect(existsSync(join(home, INDEX_FILE))).toBe(true);
    // The stored manifest is left alone: only the view changes.
    expect(JSON.parse(readFileSync(join(home, 'runs', 'run-c', 'manifest.json'), 'utf8')).status).toBe('running');
  });

  it('keeps a run whose process is alive as running', async () => {
    runManifest(home, 'run-live', { status: 'running', pid: process.pid });
    const { runs } = await listRuns(home, { status: 'running' });
    expect(runs.map((r) => r.id)).toEqual(['run-live']);
  });

  it('refreshes a stale index: new, changed and removed folders, and a deleted index.json', async () => {
    await listRuns(home);
    runManifest(home, 'run-d', { method: 'prompt', startedAt: '2025-02-01T00:00:00.000Z' });
    expect((await listRuns(home)).runs[0].id).toBe('run-d');

    runManifest(home, 'run-a', { status: 'failed' });
    // Same-millisecond writes must not hide a change: force a distinct mtime on the folder.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(home, 'runs', 'run-a'), later, later);
    expect((await listRuns(home, { status: 'failed' })).runs.map((r) => r.id)).toEqual(['run-a']);

    rmSync(join(home, 'runs', 'run-b'), { recursive: true });
    expect((await listRuns(home)).runs.map((r) => r.id)).not.toContain('run-b');

    rmSync(join(home, INDEX_FILE));
    expect((await listRuns(home)).runs).toHaveLength(3);
    writeFileSync(join(home, INDEX_FILE), '{not json');
    expect((await listRuns(home)).runs).toHaveLength(3);
    expect(await rebuildIndex(home)).toEqual({ runs: 3, adapters: 0, models: 2, datasets: 1 });
  });

  it('filters by model (id, path or name), dataset, method, status and tag, and sorts by a metric', async () => {
    expect((await listRuns(home, { model: 'tiny-gpt2-222222' })).runs.map((r) => r.id)).toEqual(['run-c']);
    expect((await listRuns(home, { model: MODEL_PATH })).runs.map((r) => r.id)).toEqual(['run-b', 'run-a']);
    expect((await listRuns(home, { model: 'tiny-llama' })).runs).toHaveLength(2);
    expect((await listRuns(home, { dataset: 'sst-aaaaaa' })).runs.map((r) => r.id).sort()).toEqual(['run-a', 'run-b']);
    expect((await listRuns(home, { dataset: 'beef' })).runs.map((r) => r.id)).toEqual(['run-c']);
    expect((await listRuns(home, { method: 'ptplus' })).runs.map((r) => r.id)).toEqual(['run-b']);
    expect((await listRuns(home, { status: 'interrupted' })).runs.map((r) => r.id)).toEqual(['run-c']);
    await tagEntry(home, 'run', 'run-a', { add: ['baseline'] });
    expect((await listRuns(home, { tag: 'baseline' })).runs.map((r) => r.id)).toEqual(['run-a']);
    expect((await listRuns(home, { sort: 'metric:accuracy' })).runs.map((r) => r.id)).toEqual(['run-b', 'run-a', 'run-c']);
    expect((await listRuns(home, { sort: 'name', order: 'desc', limit: 1 })).runs.map((r) => r.id)).toEqual(['run-c']);
    await expect(listRuns(home, { sort: 'colour' })).rejects.toThrow(/cannot sort by "colour"/);
  });

  it('saves adapters with provenance and lists them without opening tensor files', async () => {
    const state = { 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) } };
    const saved = await saveAdapter(home, {
      name: 'my lora',
      method: 'lora',
      options: { rank: 2 },
      state,
      baseModel: { path: MODEL_PATH, architecture: 'llama', files: [{ path: 'model.safetensors', sha256: 'ab', bytes: 4 }] },
      seed: 3,
      backend: 'cpu',
      metrics: { accuracy: 0.75 },
    });
    expect(saved.tensors).toMatchObject({ count: 1, parameters: 6, file: 'adapter.safetensors' });
    expect(saved.appVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(readAdapterState(home, saved.id)).toEqual(state);
    // Corrupt the tensors: listing reads only manifests (and the index), so it still works.
    writeFileSync(join(home, 'adapters', saved.id, 'adapter.safetensors'), 'garbage');
    const { adapters } = await listAdapters(home, { model: 'tiny-llama-111111', method: 'lora' });
    expect(adapters.map((a) => a.id)).toEqual([saved.id]);
    expect(adapters[0]).toMatchObject({ name: 'my lora', parameters: 6, metrics: { accuracy: 0.75 }, status: 'ready' });
    expect((await showAdapter(home, saved.id)).manifest.options).toEqual({ rank: 2 });
  });

  it('makes an adapter from a finished run checkpoint and refuses unfinished runs', async () => {
    const ckpt = join(home, 'runs', 'run-a', 'checkpoints', 'step-000004');
    mkdirSync(ckpt, { recursive: true });
    const { writeSafetensors } = await import('../engine/io/safetensors');
    writeSafetensors(join(ckpt, 'adapter.safetensors'), { w: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
    runManifest(home, 'run-a', { checkpoints: [{ step: 4, dir: 'checkpoints/step-000004', createdAt: '2025-01-01T00:01:00.000Z', trainLoss: 1 }] });
    const adapter = await createAdapterFromRun(home, 'run-a');
    expect(adapter).toMatchObject({ runId: 'run-a', checkpointStep: 4, method: 'lora', seed: 1, options: { rank: 4, alpha: 8 } });
    expect(adapter.dataset?.trainIds).toEqual(['1', '2']);
    expect((await showRun(home, 'run-a')).adapters).toEqual([adapter.id]);
    await expect(createAdapterFromRun(home, 'run-c')).rejects.toThrow(/run run-c is running; only finished runs/);
    await expect(createAdapterFromRun(home, 'nope')).rejects.toThrow(/no run "nope"/);
  });

  it('refuses to delete a model or dataset that runs depend on, naming them, unless forced', async () => {
    await expect(deleteEntry(home, 'model', 'tiny-llama-111111')).rejects.toThrow('model tiny-llama-111111 is used by run run-a, run run-b; delete those first or pass force');
    await expect(deleteEntry(home, 'dataset', 'sst-aaaaaa')).rejects.toThrow(/used by run run-a, run run-b/);
    expect(existsSync(join(home, 'models', 'tiny-llama-111111'))).toBe(true);
    const forced = await deleteEntry(home, 'model', 'tiny-llama-111111', { force: true });
    expect(forced.orphaned.runs.sort()).toEqual(['run-a', 'run-b']);
    expect(existsSync(join(home, 'models', 'tiny-llama-111111'))).toBe(false);
    expect(readdirSync(join(home, '.trash'))).toEqual([]);
    await expect(deleteEntry(home, 'model', 'tiny-llama-111111')).rejects.toThrow(/no model "tiny-llama-111111"/);
  });

  it('deletes runs (never a live one) and rejects ids that are not folder names', async () => {
    runManifest(home, 'run-live', { status: 'running', pid: process.pid });
    await expect(deleteEntry(home, 'run', 'run-live')).rejects.toThrow(/still running/);
    await deleteEntry(home, 'run', 'run-c');
    expect((await listRuns(home)).runs.map((r) => r.id)).not.toContain('run-c');
    await expect(deleteEntry(home, 'run', '../models')).rejects.toThrow(/not a valid id/);
  });

  it('renames, tags and annotates through labels.json without touching manifests', async () => {
    const before = readFileSync(join(home, 'runs', 'run-a', 'manifest.json'), 'utf8');
    await renameEntry(home, 'run', 'run-a', 'Baseline LoRA');
    await tagEntry(home, 'run', 'run-a', { add: ['paper', 'k1'] });
    await tagEntry(home, 'run', 'run-a', { remove: ['paper'] });
    await setNotes(home, 'run', 'run-a', 'lr too high?');
    const details = await showRun(home, 'run-a');
    expect(details.summary).toMatchObject({ name: 'Baseline LoRA', tags: ['k1'], notes: 'lr too high?' });
    expect(readFileSync(join(home, 'runs', 'run-a', 'manifest.json'), 'utf8')).toBe(before);
    await expect(renameEntry(home, 'run', 'run-a', '  ')).rejects.toThrow(/1–200 characters/);
    await expect(tagEntry(home, 'run', 'run-a', { add: ['two words'] })).rejects.toThrow(/without spaces/);
    await expect(showRun(home, 'missing')).rejects.toThrow(/no run "missing"/);
  });

  it('writes adapters atomically: a failed save leaves no folder, and temp folders are never listed', async () => {
    await expect(
      saveAdapter(home, {
        method: 'lora',
        options: {},
        state: { w: { shape: [3], data: Float32Array.from([1]) } },
        baseModel: { path: MODEL_PATH, architecture: 'llama', files: [] },
      }),
    ).rejects.toThrow(/shape \[3\] holds 3 values but data has 1/);
    expect(readdirSync(join(home, 'adapters'))).toEqual([]);
    mkdirSync(join(home, 'adapters', '.half.123.tmp'), { recursive: true });
    writeJson(join(home, 'adapters', '.half.123.tmp', 'manifest.json'), { kind: 'adapter', method: 'lora' });
    expect((await listAdapters(home)).adapters).toEqual([]);
    for (const kind of ['runs', 'models']) {
      for (const id of readdirSync(join(home, kind))) expect(readdirSync(join(home, kind, id)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    }
  });
});
