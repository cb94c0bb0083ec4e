// For the torch engine's parity tests: `npx tsx python/tests/make_torch_handoffs.ts CASES.json OUT_DIR`.
// CASES.json lists {name, runSpec, reference?}; each RunSpec's hand-off is written to OUT_DIR/<name>/handoff by the
// app's writeTorchHandoff, and with `reference` true OUR engine (runTrainJob, cpu backend) trains the same spec and
// OUT_DIR/<name>/reference.json records its per-step losses, final metrics and final adapter file, and with
// trainer.evalGenerate the token ids our generate() gives each eval example from that adapter.
// OUT_DIR/results.json records each case's result or error.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunSpec } from '../../src/shared/run-spec';
import type { TrainProgress } from '../../src/shared/contract/training';
import { initBackend } from '../../src/main/engine/backend';
import { writeTorchHandoff } from '../../src/main/engine/torch/handoff';
import { runTrainJob } from '../../src/main/engine/train/job';
import { listCheckpoints, readCheckpoint } from '../../src/main/engine/train/checkpoint';
import { generate } from '../../src/main/engine/generate';
import { loadModel } from '../../src/main/engine/io/load-model';
import { getMethod } from '../../src/main/engine/methods/registry';
import { readExamples } from '../../src/main/engine/train/sources';
import { MemoryRecorder } from '../../src/main/engine/train/test-fixtures';

interface Case {
  name: string;
  runSpec: RunSpec;
  reference?: boolean;
}

async function ourGenerations(spec: RunSpec, checkpointDir: string, handoffDir: string): Promise<{ index: number; ids: number[] }[]> {
  const plan = JSON.parse(readFileSync(join(handoffDir, 'plan.json'), 'utf8'));
  const scored = readFileSync(join(handoffDir, 'examples.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { index: number; id: string; split: string })
    .filter((e) => e.split === 'eval');
  const byId = new Map((await readExamples(resolve(spec.data.path))).map((e) => [e.id, e]));
  const loaded = await loadModel(resolve(spec.model.path));
  const definition = getMethod(spec.method.name);
  const adapter = definition.attach(loaded.model, plan.methodOptions as never, { seed: spec.seed ?? 0 });
  try {
    adapter.loadStateDict(readCheckpoint(checkpointDir).adapter);
    adapter.setTraining(false);
    const tokenizer = loaded.tokenizer!;
    const eosTokenIds = [...new Set([...(tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : []), ...loaded.model.config.eosTokenIds])];
    const newTokens = Math.max(1, ...scored.map((e) => tokenizer.encode(byId.get(e.id)!.target, { addSpecialTokens: false }).length)) + 2;
    const out: { index: number; ids: number[] }[] = [];
    const batchSize = plan.evalBatchSize as number;
    for (let start = 0; start < scored.length; start += batchSize) {
      const group = scored.slice(start, start + batchSize);
      const result = await generate(
        loaded.model,
        group.map((e) => tokenizer.encode(byId.get(e.id)!.prompt)),
        { maxNewTokens: newTokens, greedy: true, eosTokenIds, hooks: adapter.hooks, padTokenId: loaded.model.config.padTokenId ?? 0 },
      );
      group.forEach((e, i) => out.push({ index: e.index, ids: result.ids[i] }));
    }
    return out;
  } finally {
    adapter.dispose();
    loaded.dispose();
  }
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
        // evalGenerate: the ids OUR generate() gives for each eval example from the run's final adapter, batched,
        // left-padded and stopped as engine/eval/generation.ts greedy() does (its exactMatch is `final.exactMatch`).
        if (c.runSpec.trainer?.evalGenerate && last) reference.generations = await ourGenerations(c.runSpec, last.dir, join(dir, 'handoff'));
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
