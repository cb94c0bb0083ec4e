// For the torch engine's parity tests: `npx tsx python/tests/make_torch_handoffs.ts CASES.json OUT_DIR`.
// CASES.json lists {name, runSpec, reference?}; each RunSpec's hand-off is written to OUT_DIR/<name>/handoff by the
// app's writeTorchHandoff, and with `reference` true OUR engine (runTrainJob, cpu backend) trains the same spec and
// OUT_DIR/<name>/reference.json records its per-step losses, final metrics and final adapter file.
// OUT_DIR/results.json records each case's result or error.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunSpec } from '../../src/shared/run-spec';
import type { TrainProgress } from '../../src/shared/contract/training';
import { initBackend } from '../../src/main/engine/backend';
import { writeTorchHandoff } from '../../src/main/engine/torch/handoff';
import { runTrainJob } from '../../src/main/engine/train/job';
import { listCheckpoints } from '../../src/main/engine/train/checkpoint';
import { MemoryRecorder } from '../../src/main/engine/train/test-fixtures';

interface Case {
  name: string;
  runSpec: RunSpec;
  reference?: boolean;
}

async function main(): Promise<void> {
  const [casesPath, outArg] = process.argv.slice(2);
  const out = resolve(outArg);
  const cases = JSON.parse(readFileSync(casesPath, 'utf8')) as Case[];
  await initBackend('cpu');
  const results: Record<string, unknown>[] = [];
  for (const c of cases) {
    const dir = join(out, c.name);
    mkdirSync(dir, { recursive: true });
    try {
      const handoff = await writeTorchHandoff(c.runSpec, join(dir, 'handoff'));
      let reference: Record<string, unknown> | undefined;
      if (c.reference) {
        const recorder = new MemoryRecorder(join(dir, 'runs'));
        const result = await runTrainJob({ home: dir, runSpec: c.runSpec, backend: 'cpu' }, { recorder });
        const metrics: TrainProgress[] = recorder.metrics.get(result.runId) ?? [];
        const last = listCheckpoints(recorder.checkpointsDir(result.runId)).pop();
        reference = {
          status: result.status,
          losses: metrics.map((m) => m.trainLoss),
          gradNorms: metrics.map((m) => m.gradNorm),
          learningRates: metrics.map((m) => m.learningRate),
          evals: metrics.filter((m) => m.evalLoss !== undefined).map((m) => ({ step: m.step, evalLoss: m.evalLoss, evalAccuracy: m.evalAccuracy })),
          final: result.final,
          adapter: last ? join(last.dir, 'adapter.safetensors') : null,
        };
        writeFileSync(join(dir, 'reference.json'), JSON.stringify(reference));
      }
      results.push({ name: c.name, ok: true, handoff });
    } catch (err) {
      results.push({ name: c.name, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  }
  writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 1));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
