// Run folders: manifest round trip, metrics append/truncate (torn lines skipped), and runs left 'running'
// by a dead process become 'interrupted'.
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunManifest, TrainProgress } from '@shared/contract/training';
import { RunsStore } from './runs-store';

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});
function store(): RunsStore {
  const home = mkdtempSync(join(tmpdir(), 'prefixlab-runs-'));
  homes.push(home);
  return new RunsStore(home);
}

function manifest(runId: string, overrides: Partial<RunManifest> = {}): RunManifest {
  return {
    version: 1,
    runId,
    status: 'running',
    method: 'ptplus',
    methodOptions: {},
    trainer: {},
    learningRate: 0.01,
    seed: 0,
    backend: 'cpu',
    appVersion: '0.0.0',
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    baseModel: { path: '/m', architecture: 'llama', parameters: 1, files: [] },
    dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainIds: ['1'], evalIds: [] },
    trainableParams: 1,
    totalSteps: 3,
    step: 0,
    checkpoints: [],
    ...overrides,
  };
}

const point = (step: number): TrainProgress => ({
  runId: 'r',
  step,
  totalSteps: 3,
  epoch: step,
  trainLoss: 1 / step,
  learningRate: 0.01,
  gradNorm: 1,
  tokensPerSecond: 10,
  tokensSeen: step * 10,
  etaSeconds: 0,
  memory: { numTensors: 1, numBytes: 4, rssBytes: 8 },
});

describe('RunsStore', () => {
  it('creates, reads and updates a manifest; refuses duplicates and bad ids', async () => {
    const runs = store();
    const id = RunsStore.newRunId('lora');
    expect(id).toMatch(/^\d{8}-\d{6}-lora-[0-9a-f]{4}$/);
    await runs.create(manifest(id));
    await expect(runs.create(manifest(id))).rejects.toThrow(/already exists/);
    await runs.update(id, (m) => ({ ...m, status: 'finished', step: 3 }));
    expect(runs.read(id)).toMatchObject({ status: 'finished', step: 3 });
    expect(runs.list().map((m) => m.runId)).toEqual([id]);
    expect(() => runs.runDir('../evil')).toThrow(/not a valid run id/);
  });

  it('appends metrics, skips a torn last line and truncates after a step', async () => {
    const runs = store();
    await runs.create(manifest('r'));
    for (const step of [1, 2, 3]) runs.appendMetrics('r', point(step));
    appendFileSync(join(runs.runDir('r'), 'metrics.jsonl'), '{"runId":"r","st');
    expect(runs.readMetrics('r').map((p) => p.step)).toEqual([1, 2, 3]);
    await runs.truncateMetrics('r', 2);
    expect(runs.readMetrics('r').map((p) => p.step)).toEqual([1, 2]);
  });

  it('marks runs of dead processes interrupted and leaves live and finished ones alone', async () => {
    const runs = store();
    await runs.create(manifest('dead', { pid: 999_999_999 }));
    await runs.create(manifest('alive'));
    await runs.create(manifest('done', { pid: 999_999_999, status: 'finished' }));
    await runs.create(manifest('elsewhere', { pid: 999_999_999, hostname: 'another-host' }));
    expect(await runs.markInterrupted()).toEqual(['dead']);
    expect(runs.read('dead')).toMatchObject({ status: 'interrupted' });
    expect(runs.read('dead').reason).toMatch(/pid 999999999/);
    expect(runs.read('alive').status).toBe('running');
    expect(runs.read('done').status).toBe('finished');
    expect(runs.read('elsewhere').status).toBe('running');
  });
});
