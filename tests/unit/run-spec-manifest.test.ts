// Every new run's manifest carries the RunSpec it was asked for; a run recorded before RunSpec existed (no
// runSpec in its manifest) still lists, summarises and resumes from its own fields.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoredRunSpecSchema } from '../../src/shared/run-spec';
import { runSpecFromFlags } from '../../src/main/cli/run-spec-flags';
import { runTrainJob } from '../../src/main/engine/train/job';
import { RunsStore } from '../../src/main/registry/runs-store';
import { runSummaries } from '../../src/main/services/registry-service';
import { classificationJsonl, FIXTURE_MODEL } from '../fuzz/lib/home-fixture';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-runspec-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('run manifests and the RunSpec', () => {
  it('a new run writes its RunSpec; the same run made old-style (no runSpec) still lists and resumes', async () => {
    const data = join(tmp, 'data.jsonl');
    writeFileSync(data, classificationJsonl(16));
    const home = join(tmp, 'home');
    const spec = runSpecFromFlags({
      model: FIXTURE_MODEL,
      data,
      method: 'lora',
      steps: 4,
      seed: 1,
      kPerClass: 3,
      set: { batchSize: '4', maxLength: '32', checkpointEvery: '2', keepCheckpoints: '0', evalEvery: '0', maxEvalExamples: '4', rank: '2' },
    });
    const store = new RunsStore(home);
    const first = await runTrainJob({ home, runSpec: spec, backend: 'cpu' }, { recorder: store });
    expect(first.status).toBe('finished');

    const manifestFile = join(store.runDir(first.runId), 'manifest.json');
    const written = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
    expect(written.runSpec).toEqual(JSON.parse(JSON.stringify(spec)));
    expect(StoredRunSpecSchema.parse(written.runSpec)).toEqual(spec);
    expect(written).toMatchObject({ method: 'lora', methodOptions: { rank: 2 }, seed: 1, dataset: { kPerClass: 3, splitSeed: 0 } });
    // The listing carries no runSpec (its frozen split would repeat the id lists).
    expect(runSummaries(home)[0]).not.toHaveProperty('runSpec');

    // As a run from before RunSpec: no runSpec, stopped after step 2 with its checkpoint.
    const old: Record<string, unknown> = { ...written, status: 'interrupted', step: 2, checkpoints: (written.checkpoints as { step: number }[]).filter((c) => c.step === 2) };
    delete old.runSpec;
    delete old.final;
    delete old.result;
    delete old.endedAt;
    writeFileSync(manifestFile, JSON.stringify(old, null, 2));
    rmSync(join(store.checkpointsDir(first.runId), 'step-000004'), { recursive: true, force: true });
    expect(runSummaries(home).map((r) => [r.runId, r.status])).toEqual([[first.runId, 'interrupted']]);

    const resumed = await runTrainJob({ home, runId: first.runId, resume: true, backend: 'cpu' }, { recorder: store });
    expect(resumed).toMatchObject({ status: 'finished', steps: 4, method: 'lora', options: { rank: 2 } });
    expect(store.read(first.runId).runSpec).toBeUndefined();
  });
});
