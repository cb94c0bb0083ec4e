// trainer.quantizedBase in a training job on a GGUF base: the manifest records what the run resolved it to
// (auto: on for LoRA, off for full fine-tuning), and the quantized run's losses and final metrics equal the
// float32 run's exactly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { fixturesDir, repoRoot } from '../test-paths';
import { runTrainJobFromFlags as runTrainJob, type JobFlags } from '../../cli/testing/requests-from-flags';
import { MemoryRecorder } from './test-fixtures';

const dataDir = resolve(fixturesDir, '../eval-data');
const model = join(repoRoot, 'tests/fixtures/gguf/tiny/qwen2.Q8_0.gguf');
let home: string;
let recorder: MemoryRecorder;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-quantized-base-'));
  recorder = new MemoryRecorder(join(home, 'runs'));
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

const flags = (method: 'lora' | 'full', quantizedBase: 'auto' | 'off'): JobFlags => ({
  home,
  model,
  data: join(dataDir, 'sst2-train.tsv'),
  method,
  steps: 3,
  seed: 1,
  lr: 0.01,
  set: { 'train.batchSize': '4', 'train.maxLength': '32', 'train.evalEvery': '0', 'train.checkpointEvery': '0', 'train.quantizedBase': quantizedBase },
});

describe('trainer.quantizedBase in a job', () => {
  it('auto on a GGUF base: LoRA runs quantized (recorded), with the float32 run’s losses; full fine-tuning stays float32', async () => {
    const quantized = await runTrainJob(flags('lora', 'auto'), { recorder });
    const float = await runTrainJob(flags('lora', 'off'), { recorder });
    expect(recorder.read(quantized.runId).baseModel.quantizedBase).toBe(true);
    expect(recorder.read(float.runId).baseModel.quantizedBase).toBe(false);
    const losses = (runId: string) => recorder.metrics.get(runId)!.map((p) => p.trainLoss);
    expect(losses(quantized.runId).length).toBeGreaterThan(0);
    expect(losses(quantized.runId)).toEqual(losses(float.runId));
    expect(quantized.final).toEqual(float.final);
    const full = await runTrainJob(flags('full', 'auto'), { recorder });
    expect(recorder.read(full.runId).baseModel.quantizedBase).toBe(false);
  }, 120_000);
});
