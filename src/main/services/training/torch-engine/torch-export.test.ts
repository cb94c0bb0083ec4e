// A finished torch-engine run exports like any run: `prefixlab export RUN --format peft` writes the PEFT folder
// and its reload-parity check (export/parity.ts: the exported adapter reloaded against the run's own) passes.
// Real Python (.venv) on stories260K, LoRA, a few steps; skips, saying why, without the .venv or the package.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSpecInput } from '@shared/run-spec';
import { initBackend } from '../../../engine/backend';
import { parseRunSpec } from '../../../engine/train/run-spec';
import { storiesHf } from '../../../engine/train/test-fixtures';
import { SafetensorsReader } from '../../../engine/io/safetensors';
import { PARITY_TOLERANCE } from '../../../export/parity';
import { RunsStore } from '../../../registry/runs-store';
import { exportAdapter } from '../../export-service';
import { train } from '../train';
import { realTorchSkipReason, venvPython, writeWeatherData } from './real-python-fixture';

const skip = realTorchSkipReason();
if (skip) console.warn(`skipping the torch run export: ${skip}`);

let home: string;
let data: string;
beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-torch-export-'));
  data = writeWeatherData(join(home, 'weather.jsonl'));
});
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

describe.skipIf(skip !== null)('torch engine run export (real Python, stories260K)', () => {
  it('exports a finished LoRA run as PEFT with the reload-parity check passing', async () => {
    const spec = parseRunSpec({
      engine: 'torch',
      model: { path: storiesHf },
      data: { path: data, split: { evalSplit: 4 } },
      method: { name: 'lora', options: { dropout: 0 } },
      // A learning rate that moves the adapter off its zero-initialised B: parity is then not of a no-op.
      trainer: { steps: 3, batchSize: 4, maxLength: 32, learningRate: 0.05, warmupSteps: 0, evalEvery: 0, checkpointEvery: 0 },
      seed: 1,
    } as RunSpecInput);
    const run = await train({ home, spec, torch: { python: venvPython } });
    expect(run.reason).toBeUndefined();
    expect(run).toMatchObject({ status: 'finished', steps: 3 });
    expect(new RunsStore(home).read(run.runId).runSpec?.engine).toBe('torch');
    // Trained off its zero-initialised B matrices, so the parity check compares a real adapter, not the base.
    const trained = SafetensorsReader.open(join(new RunsStore(home).runDir(run.runId), 'adapter.safetensors'));
    try {
      const bNames = [...trained.tensors.keys()].filter((name) => /\.lora_B\.weight$/.test(name));
      expect(bNames.length).toBeGreaterThan(0);
      expect(Math.max(...bNames.map((name) => Math.max(...Array.from(trained.read(name).data, Math.abs))))).toBeGreaterThan(0);
    } finally {
      trained.close();
    }

    const outDir = join(home, 'exported-peft');
    const exported = await exportAdapter({ home, id: run.runId, format: 'peft', outDir });
    expect(exported.format).toBe('peft');
    expect(exported.parity.ok).toBe(true);
    expect(exported.parity.inputs.length).toBeGreaterThan(0);
    expect(exported.parity.maxAbsDiff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    const files = readdirSync(outDir);
    expect(files).toContain('adapter_config.json');
    expect(files).toContain('adapter_model.safetensors');
  }, 300_000);
});
