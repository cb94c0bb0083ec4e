// A full disk during a checkpoint (simulated with the PREFIXLAB_INJECT_ENOSPC seam in the atomic writers)
// keeps the previous checkpoint intact, says why the run stopped, and the run resumes from that checkpoint;
// a failed manifest write leaves the old manifest whole and no temp file behind; two fixes the kill harness
// needed (prune hides before deleting; adapters come from the checkpoints on disk).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { listCheckpoints, pruneCheckpoints, readCheckpoint } from '../../src/main/engine/train/checkpoint';
import { createAdapterFromRun } from '../../src/main/registry/adapter-store';
import { runTrainJobFromFlags as runTrainJob } from '../../src/main/cli/testing/requests-from-flags';
import { writeJsonAtomic } from '../../src/main/platform/atomic-write';
import { RunsStore } from '../../src/main/registry/runs-store';
import { classificationJsonl, FIXTURE_MODEL } from '../fuzz/lib/home-fixture';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-enospc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.PREFIXLAB_INJECT_ENOSPC;
});

describe('a full disk', () => {
  it('during a checkpoint keeps the previous one, says why the run stopped, and the run resumes from it', async () => {
    const data = join(tmp, 'data.jsonl');
    writeFileSync(data, classificationJsonl(16));
    const home = join(tmp, 'home');
    const spec = {
      home,
      model: FIXTURE_MODEL,
      data,
      method: 'lora' as const,
      steps: 6,
      seed: 1,
      runId: '20250101-000000-lora-d15c',
      set: { batchSize: '4', maxLength: '32', checkpointEvery: '2', evalEvery: '0', maxEvalExamples: '4' },
    };
    process.env.PREFIXLAB_INJECT_ENOSPC = 'step-000004';
    const message = /^could not write the checkpoint of step 4: the disk is full \(ENOSPC\); the checkpoint of step 2 is intact; free space and resume from it$/;
    await expect(runTrainJob(spec, { recorder: new RunsStore(home) })).rejects.toMatchObject({ code: 'io_error', message: expect.stringMatching(message) });
    delete process.env.PREFIXLAB_INJECT_ENOSPC;

    const store = new RunsStore(home);
    const manifest = store.read(spec.runId);
    expect(manifest.status).toBe('failed');
    expect(manifest.reason).toMatch(message);
    const root = store.checkpointsDir(spec.runId);
    expect(readdirSync(root)).toEqual(['step-000002']); // no step-4 folder, no temp folder left behind
    expect(readCheckpoint(join(root, 'step-000002')).state.step).toBe(2);

    const resumed = await runTrainJob({ home, model: FIXTURE_MODEL, data, method: 'lora', seed: 1, runId: spec.runId, resume: true }, { recorder: new RunsStore(home) });
    expect(resumed.status).toBe('finished');
    expect(resumed.steps).toBe(6);
    expect(listCheckpoints(root).map((c) => c.step)).toContain(6);
    expect(store.readMetrics(spec.runId).map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('an adapter is made from the newest complete checkpoint on disk, whatever the manifest lists', async () => {
    // Found by the kill harness: a run killed after writing (or pruning) a checkpoint but before recording it
    // lists a step that is gone, and a resume that starts at the last step never records it.
    const data = join(tmp, 'data2.jsonl');
    writeFileSync(data, classificationJsonl(16));
    const home = join(tmp, 'home2');
    const result = await runTrainJob(
      {
        home,
        model: FIXTURE_MODEL,
        data,
        method: 'lora',
        steps: 6,
        seed: 1,
        set: { batchSize: '4', maxLength: '32', checkpointEvery: '2', keepCheckpoints: '2', evalEvery: '0', maxEvalExamples: '4' },
      },
      { recorder: new RunsStore(home) },
    );
    const store = new RunsStore(home);
    expect(listCheckpoints(store.checkpointsDir(result.runId)).map((c) => c.step)).toEqual([4, 6]);
    await store.update(result.runId, (m) => ({ ...m, checkpoints: [{ step: 2, dir: 'checkpoints/step-000002', createdAt: m.startedAt, trainLoss: null }] }));
    const adapter = await createAdapterFromRun(home, result.runId);
    expect(adapter.checkpointStep).toBe(6);
  });

  it('pruning never leaves a visible, partly deleted checkpoint', () => {
    const root = join(tmp, 'prune');
    for (const step of [2, 4, 6]) {
      mkdirSync(join(root, `step-00000${step}`), { recursive: true });
      writeFileSync(join(root, `step-00000${step}`, 'state.json'), '{}');
    }
    pruneCheckpoints(root, 1);
    expect(readdirSync(root)).toEqual(['step-000006']);
  });

  it('during a manifest write leaves the old manifest whole and no temp file', async () => {
    const dir = join(tmp, 'manifest');
    const path = join(dir, 'manifest.json');
    mkdirSync(dir, { recursive: true });
    await writeJsonAtomic(path, { version: 1, status: 'running' });
    process.env.PREFIXLAB_INJECT_ENOSPC = 'manifest.json';
    await expect(writeJsonAtomic(path, { version: 1, status: 'finished', big: 'x'.repeat(10_000) })).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, status: 'running' });
    expect(readdirSync(dir)).toEqual(['manifest.json']);
    expect(existsSync(path)).toBe(true);
  });
});
