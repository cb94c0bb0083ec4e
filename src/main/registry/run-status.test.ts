// What `runs list` / `runs show` and recovery say about runs that are not what their manifest claims:
// a truncated manifest is listed 'damaged' with the reason (never dropped), and a 'running' run whose pid
// now belongs to another process (a different start time) is 'interrupted'.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunManifest } from '@shared/contract/training';
import { runCli } from '../cli/run-cli';
import { listRuns, removeEntry, showRun } from '../services/registry-service';
import { resume } from '../services/training/train';
import { processStartTime } from '../platform/process-identity';
import { RunsStore } from './runs-store';

const hasProc = processStartTime(process.pid) !== null;

function manifest(runId: string, overrides: Partial<RunManifest> = {}): RunManifest {
  return {
    version: 1,
    runId,
    status: 'finished',
    method: 'lora',
    methodOptions: {},
    trainer: {},
    learningRate: 0.01,
    seed: 0,
    backend: 'cpu',
    appVersion: '0.0.0',
    pid: process.pid,
    hostname: hostname(),
    startedAt: '2025-03-01T10:00:00.000Z',
    baseModel: { path: '/m', architecture: 'llama', parameters: 1, files: [] },
    dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainIds: ['1'], evalIds: [] },
    trainableParams: 1,
    totalSteps: 3,
    step: 3,
    checkpoints: [],
    ...overrides,
  };
}

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

let home: string;
let store: RunsStore;
const DAMAGED = '20250301-120000-ptplus-beef';

beforeEach(async () => {
  home = mkdtempSync(join(tmpdir(), 'prefixlab-run-status-'));
  store = new RunsStore(home);
  await store.create(manifest('good-run'));
  await store.create(manifest(DAMAGED, { method: 'ptplus' }));
  // A manifest cut short mid-write by something other than us (a disk full, a copy interrupted, an editor).
  const path = join(store.runDir(DAMAGED), 'manifest.json');
  writeFileSync(path, readFileSync(path, 'utf8').slice(0, 120));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await runCli([...args, '--home', home], out.stream, err.stream);
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('a run with a truncated manifest', () => {
  it('is listed as damaged with the reason (JSON and text), and the listing exits 0', async () => {
    const json = await cli(['runs', 'list', '--json']);
    expect(json.code).toBe(0);
    const runs = JSON.parse(json.stdout).runs as { id: string; status: string; reason: string | null; method: string; createdAt: string }[];
    expect(runs.map((r) => r.id).sort()).toEqual([DAMAGED, 'good-run'].sort());
    const damaged = runs.find((r) => r.id === DAMAGED)!;
    expect(damaged.status).toBe('damaged');
    expect(damaged.reason).toMatch(/manifest\.json is not valid JSON, probably cut short/);
    // What the generated id tells: method and start time.
    expect(damaged).toMatchObject({ method: 'ptplus', createdAt: '2025-03-01T12:00:00.000Z' });
    expect(runs.find((r) => r.id === 'good-run')!.status).toBe('finished');

    const text = await cli(['runs', 'list']);
    expect(text.code).toBe(0);
    const line = text.stdout.split('\n').find((l) => l.startsWith(DAMAGED))!;
    expect(line).toMatch(/damaged .*not valid JSON.*\(prefixlab runs show 20250301-120000-ptplus-beef\)/);

    expect((await cli(['runs', 'list', '--status', 'damaged', '--json'])).stdout).toContain(DAMAGED);
  });

  it('`runs show` says why and how to repair or delete it, in one line', async () => {
    const shown = await cli(['runs', 'show', DAMAGED, '--json']);
    expect(shown.code).not.toBe(0);
    expect(shown.stdout).toBe('');
    const lines = shown.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(join(store.runDir(DAMAGED), 'manifest.json'));
    expect(lines[0]).toMatch(/is damaged: manifest\.json is not valid JSON/);
    expect(lines[0]).toMatch(/restore .*manifest\.json from a backup .*or delete the run/);
    await expect(showRun(home, 'good-run')).resolves.toMatchObject({ summary: { status: 'finished' } });
  });

  it('an empty or non-object manifest is damaged too; a folder with no manifest yet is not listed', async () => {
    await store.create(manifest('emptied'));
    writeFileSync(join(store.runDir('emptied'), 'manifest.json'), '');
    await store.create(manifest('an-array'));
    writeFileSync(join(store.runDir('an-array'), 'manifest.json'), '[1, 2]');
    mkdirSync(join(store.root, 'being-created', 'checkpoints'), { recursive: true });
    const { runs } = await listRuns(home);
    expect(runs.find((r) => r.id === 'emptied')).toMatchObject({ status: 'damaged', reason: 'manifest.json is empty' });
    expect(runs.find((r) => r.id === 'an-array')).toMatchObject({ status: 'damaged', reason: 'manifest.json does not hold a JSON object' });
    expect(runs.some((r) => r.id === 'being-created')).toBe(false);
  });

  it('reads clearly where the store needs it, and can be deleted', async () => {
    expect(() => store.read(DAMAGED)).toThrow(/run 20250301-120000-ptplus-beef is damaged: manifest\.json is not valid JSON/);
    await expect(removeEntry(home, 'run', DAMAGED)).resolves.toMatchObject({ deleted: true });
    expect((await listRuns(home)).runs.map((r) => r.id)).toEqual(['good-run']);
  });

  it('a repaired manifest is listed normally again (the index re-reads it)', async () => {
    expect((await listRuns(home)).runs.find((r) => r.id === DAMAGED)!.status).toBe('damaged');
    writeFileSync(join(store.runDir(DAMAGED), 'manifest.json'), JSON.stringify(manifest(DAMAGED, { method: 'ptplus' })));
    // Same-millisecond writes must not hide a change: force a distinct mtime on the folder.
    const later = new Date(Date.now() + 5000);
    utimesSync(store.runDir(DAMAGED), later, later);
    expect((await listRuns(home)).runs.find((r) => r.id === DAMAGED)).toMatchObject({ status: 'finished', reason: null });
  });
});

describe.skipIf(!hasProc)('a running run whose pid was reused', () => {
  it('is interrupted when the pid is alive but started at another time, and recovery marks it', async () => {
    const own = processStartTime(process.pid)!;
    // This test process stands in for the unrelated process that got the dead run's pid.
    await store.create(manifest('reused', { status: 'running', step: 1, pid: process.pid, pidStartTime: own - 1 }));
    await store.create(manifest('live', { status: 'running', step: 1, pid: process.pid, pidStartTime: own }));
    const { runs } = await listRuns(home);
    expect(runs.find((r) => r.id === 'reused')).toMatchObject({ status: 'interrupted', reason: expect.stringMatching(/ended without finishing/) });
    expect(runs.find((r) => r.id === 'live')!.status).toBe('running');
    expect(JSON.parse((await cli(['runs', 'list', '--status', 'interrupted', '--json'])).stdout).runs.map((r: { id: string }) => r.id)).toEqual(['reused']);

    // Resuming is refused only while the owner really runs; the reused one gets past that check (and then
    // stops, in one line naming the path, at this test's made-up model).
    await expect(resume({ home, runId: 'live', backend: 'cpu', isolate: 'inline' })).rejects.toThrow(/is still running/);
    await expect(resume({ home, runId: 'reused', backend: 'cpu', isolate: 'inline' })).rejects.toMatchObject({
      code: 'not_found',
      message: "run reused's base model does not exist",
      file: '/m',
    });

    expect(await store.markInterrupted()).toEqual(['reused']);
    expect(store.read('reused')).toMatchObject({ status: 'interrupted', reason: expect.stringMatching(new RegExp(`pid ${process.pid}`)) });
    expect(store.read('live').status).toBe('running');
  });
});
