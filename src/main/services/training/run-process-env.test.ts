// The training process starts with the allocator settings of platform/allocator-env.ts: a stand-in worker,
// started through runInChildProcess's real launcher, reports the environment it got.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { TrainJobSpec } from '../../engine/train/job';
import { trainingAllocatorEnv } from '../../platform/allocator-env';
import { nodeLauncher, type ProcessLauncher } from '../../platform/process-launcher';
import { runInChildProcess } from './run-process';

const dir = mkdtempSync(join(tmpdir(), 'prefixlab-run-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it.runIf(process.platform === 'linux')('the training process gets the training allocator settings', async () => {
  const worker = join(dir, 'report-env.cjs');
  writeFileSync(
    worker,
    `process.on('message', () => {
      process.send({ type: 'log', message: String(process.env.GLIBC_TUNABLES) });
      process.send({ type: 'error', error: { code: 'internal', message: 'stand-in worker' } });
    });
    process.send({ type: 'ready' });`,
  );
  // The real fork, with the stand-in worker in place of worker.ts.
  const launcher: ProcessLauncher = { kind: 'node', launch: (_file, options) => nodeLauncher.launch(worker, { ...options, execArgv: [] }) };
  const logs: string[] = [];
  const spec = { home: dir, runId: 'env-check' } as unknown as TrainJobSpec;
  await expect(runInChildProcess(spec, { launcher, onLog: (m) => logs.push(m) })).rejects.toThrow('stand-in worker');
  const expected = trainingAllocatorEnv().GLIBC_TUNABLES ?? process.env.GLIBC_TUNABLES;
  expect(expected).toMatch(/glibc\.malloc\.mmap_threshold=/);
  expect(logs).toEqual([expected]);
});
