// Trainer option dataParallel in a training job (stories260K): a run with a replica process gives the losses of
// the run without (PT+ with data-mean centring, so the replica must get μ too), says so in its log, and a run
// that cannot have replicas (full fine-tuning) trains in one process and says why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { dataParallelJobFlags, runTrainJobFromFlags as runTrainJob, type JobFlags } from '../../cli/testing/requests-from-flags';
import { hasStoriesHf, MemoryRecorder, writeWeatherData } from './test-fixtures';
import { replicasRefusal, threadsPerProcess } from './run-replicas';
import { shareCoresWithReplicas } from './job';

const isAvailable = hasStoriesHf();
let home: string;
let data: string;
let recorder: MemoryRecorder;
const threadsBefore = process.env.TF_NUM_INTRAOP_THREADS;

beforeAll(async () => {
  await initBackend('cpu');
  // The job sets this for a data-parallel run when unset; the cpu backend ignores it, and the test puts it back.
  process.env.TF_NUM_INTRAOP_THREADS = '1';
  home = mkdtempSync(join(tmpdir(), 'prefixlab-dp-job-'));
  recorder = new MemoryRecorder(join(home, 'runs'));
  data = join(home, 'weather.jsonl');
  writeWeatherData(data);
});

afterAll(() => {
  if (threadsBefore === undefined) delete process.env.TF_NUM_INTRAOP_THREADS;
  else process.env.TF_NUM_INTRAOP_THREADS = threadsBefore;
  if (home) rmSync(home, { recursive: true, force: true });
});

const spec = (method: string, dataParallel: number, set: Record<string, string> = {}): JobFlags => dataParallelJobFlags({ home, data }, method, dataParallel, 5, set);

async function run(flags: JobFlags): Promise<{ losses: number[]; logs: string[]; status: string; processes?: number; recorded?: number }> {
  const losses: number[] = [];
  const logs: string[] = [];
  const result = await runTrainJob(flags, { recorder, log: (m) => void logs.push(m), onProgress: (p) => void losses.push(p.trainLoss) });
  return { losses, logs, status: result.status, processes: result.processes, recorded: recorder.read(result.runId).result?.processes };
}

describe.skipIf(!isAvailable)('dataParallel in a training job (stories260K)', () => {
  it('a replica process gives the single-process losses (PT+ with data-mean centring) and the log says it ran', async () => {
    const centred = { phiCenter: 'data-mean', memoryInitStd: '0.01' };
    const single = await run(spec('ptplus', 1, centred));
    const parallel = await run(spec('ptplus', 2, centred));
    expect(parallel.status).toBe('finished');
    expect(parallel.logs.some((m) => /^dataParallel 2: each step's rows are shared with 1 replica process/.test(m))).toBe(true);
    expect(single.logs.some((m) => m.startsWith('dataParallel'))).toBe(false);
    // The result and the run's manifest say how many processes trained.
    expect([parallel.processes, parallel.recorded]).toEqual([2, 2]);
    expect([single.processes, single.recorded]).toEqual([undefined, undefined]);
    expect(parallel.losses).toHaveLength(3);
    parallel.losses.forEach((loss, i) => expect(Math.abs(loss - single.losses[i])).toBeLessThan(1e-5 * single.losses[i]));
  }, 180_000);

  it('on the wasm backend (one heap per process) a replica runs too, with the same losses', async () => {
    const single = await run(spec('lora', 1, { dropout: '0' }));
    await initBackend('wasm');
    try {
      const parallel = await run(spec('lora', 2, { dropout: '0' }));
      expect(parallel.logs.some((m) => /^dataParallel 2: each step's rows are shared with 1 replica process/.test(m))).toBe(true);
      expect(parallel.processes).toBe(2);
      // cpu against wasm kernels: equal to float rounding, not bit for bit.
      parallel.losses.forEach((loss, i) => expect(Math.abs(loss - single.losses[i])).toBeLessThan(1e-4 * single.losses[i]));
    } finally {
      await initBackend('cpu');
    }
  }, 180_000);

  it('full fine-tuning trains in one process and says why', async () => {
    const full = await run(spec('full', 2));
    expect(full.status).toBe('finished');
    expect(full.processes).toBeUndefined();
    expect(full.logs).toContain('dataParallel 2: training in one process: full fine-tuning trains every weight, which would cross between the processes at every step');
  }, 180_000);
});

describe('when a run can have replicas', () => {
  const estimate = { weightsBytes: 4e9, trainableBytes: 1e6, gradientBytes: 1e6, optimizerBytes: 2e6, activationsBytes: 2e9, totalBytes: 6.004e9 };
  it('refuses full fine-tuning, a process that cannot start others, and more processes than memory holds', () => {
    expect(replicasRefusal({ processes: 2, method: 'full', memory: { estimate } }, 1e12, true)).toMatch(/full fine-tuning/);
    expect(replicasRefusal({ processes: 2, method: 'lora', memory: { estimate } }, 1e12, false)).toMatch(/cannot start replica processes/);
    // One replica: the base again plus half the activations, about 11 GB in all.
    expect(replicasRefusal({ processes: 2, method: 'lora', memory: { estimate } }, 12e9, true)).toBeNull();
    expect(replicasRefusal({ processes: 2, method: 'lora', memory: { estimate } }, 10e9, true)).toMatch(/2 processes would need about 10\.3 GiB/);
  });
  it('splits the cores between the processes, one thread at least', () => {
    expect(threadsPerProcess(8, 2)).toBe(4);
    expect(threadsPerProcess(2, 2)).toBe(1);
    expect(threadsPerProcess(2, 4)).toBe(1);
  });
  it("sets the training process's own thread count from dataParallel, unless the environment chose one", () => {
    const env: NodeJS.ProcessEnv = {};
    shareCoresWithReplicas({ dataParallel: 1 }, env, 16);
    expect(env.TF_NUM_INTRAOP_THREADS).toBeUndefined();
    shareCoresWithReplicas(undefined, env, 16);
    expect(env.TF_NUM_INTRAOP_THREADS).toBeUndefined();
    shareCoresWithReplicas({ dataParallel: 3 }, env, 16);
    expect(env.TF_NUM_INTRAOP_THREADS).toBe('5');
    const chosen: NodeJS.ProcessEnv = { TF_NUM_INTRAOP_THREADS: '2' };
    shareCoresWithReplicas({ dataParallel: 4 }, chosen, 16);
    expect(chosen.TF_NUM_INTRAOP_THREADS).toBe('2');
  });
});
