// `npm run bench -- <generate|train|profile|leak> [--backend a,b] [--shape a,b] [--method a,b] [--seq 64,256]
//   [--threads N] [--repeat N] [--steps N] [--batch 4,8 (profile)] [--recompute off,on] [--quantized-base off,on] [--data-parallel N|1,N] [--json FILE] [--no-reference] [--memory-only]`
//   generate  prompt and decoding tokens/s (generate-bench.ts)
//   train     ms per training step per method × backend × shape × T, with the PyTorch reference (train-bench.ts)
//             --engine torch,tfjs [--python PATH]: our engine against the torch engine on the same RunSpec (engine-bench.ts)
//   profile   per-kernel time of a training step (profile-bench.ts)
//   leak      1,000 training steps: live tensors and RSS at start and end (leak-bench.ts)
//   markdown  FILE…: the JSON written by the others as the Markdown tables of docs/performance.md (markdown.ts)
// --threads N: PyTorch's thread count and native TensorFlow's intra-op threads (default 1: the wasm backend
// runs on one thread, so ratios compare like with like). --repeat N: train measures ours and PyTorch
// alternately N times and reports medians (a shared machine's load then hits both alike). --data-parallel N
// (train): N processes share each step's rows, each on --threads threads; PyTorch gets N × --threads.
// --data-parallel 1,N measures both counts alternately within each repeat and reports N's × over one process.
import { formatApiError, toApiErrorData } from '../src/shared/errors';
import { parseArgs } from 'node:util';
import { fmt, printTable, writeJson } from './report';
import { machineInfo } from './machine';
import type { BackendName } from '../src/main/engine/backend';
import { spawnSync } from 'node:child_process';
import { trainingAllocatorEnv } from '../src/main/platform/allocator-env';
import { STARTED_WITH_TUNABLES } from './reference-env';
import { parseProcessCounts } from './repeat-rows';

const list = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];

/**
 * The benchmark measures what a training process does, so it runs under the same allocator settings
 * (platform/allocator-env.ts); glibc reads them at start, so this process starts itself again with them. The
 * references get the settings the benchmark was started with (reference-env.ts). PREFIXLAB_ALLOCATOR=default
 * leaves ours unchanged too.
 */
function restartWithTrainingAllocator(): boolean {
  const extra = trainingAllocatorEnv();
  if (!extra.GLIBC_TUNABLES) return false; // set already (this is the restarted process), or not Linux
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...extra, [STARTED_WITH_TUNABLES]: process.env.GLIBC_TUNABLES ?? '' },
  });
  process.exitCode = child.status ?? 1;
  return true;
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      backend: { type: 'string', default: 'tensorflow,wasm,cpu' },
      shape: { type: 'string' },
      method: { type: 'string' },
      seq: { type: 'string' },
      json: { type: 'string' },
      threads: { type: 'string', default: '1' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      recompute: { type: 'string', default: 'off' },
      'quantized-base': { type: 'string', default: 'off' },
      'prompt-tokens': { type: 'string', default: '32' },
      'new-tokens': { type: 'string', default: '32' },
      'no-reference': { type: 'boolean', default: false },
      'memory-only': { type: 'boolean', default: false },
      'data-parallel': { type: 'string', default: '1' },
      engine: { type: 'string' },
      python: { type: 'string' },
    },
  });
  const task = positionals[0];
  // `markdown` only formats JSON: nothing to measure, no reason to start again.
  if (task !== 'markdown' && restartWithTrainingAllocator()) return;
  const backends = list(values.backend) as BackendName[];
  const threads = Math.max(1, Number(values.threads));
  // libtensorflow reads these when its first context starts, i.e. after this point.
  process.env.TF_NUM_INTRAOP_THREADS ??= String(threads);
  process.env.TF_NUM_INTEROP_THREADS ??= '1';
  if (task === 'generate') {
    const { benchGenerate } = await import('./generate-bench');
    const rows = await benchGenerate({
      backends,
      shapes: list(values.shape),
      promptTokens: Number(values['prompt-tokens']),
      newTokens: Number(values['new-tokens']),
      reference: !values['no-reference'],
      threads,
    });
    const table = rows.map((r) => ({ ...r, ratio: r.reference ? r.generatedTokensPerSecond / r.reference.tokensPerSecond : undefined, ref: r.reference?.tokensPerSecond }));
    printTable(table, [
      { key: 'model', label: 'model' },
      { key: 'backend', label: 'backend' },
      { key: 'promptTokensPerSecond', label: 'prompt tok/s', format: fmt.num(1) },
      { key: 'generatedTokensPerSecond', label: 'generated tok/s', format: fmt.num(1) },
      { key: 'ref', label: 'reference tok/s', format: fmt.num(1) },
      { key: 'ratio', label: '× reference', format: fmt.num(3) },
      { key: 'peakTensorBytes', label: 'peak tensors', format: fmt.mib },
      { key: 'peakRssBytes', label: 'peak RSS', format: fmt.mib },
    ]);
    writeJson(values.json ?? 'bench-results/generate.json', { machine: machineInfo(), threads, rows });
    return;
  }
  if (task === 'train' && values.engine) {
    // --engine torch,tfjs: both engines on the same RunSpec, timed from their own metrics (engine-bench.ts).
    const { runEngineBench } = await import('./engine-bench');
    const { failed } = await runEngineBench({
      engines: list(values.engine),
      backends,
      shapes: list(values.shape),
      methods: list(values.method),
      seqs: list(values.seq).map(Number),
      threads,
      python: values.python,
      json: values.json,
    });
    if (failed.length) process.exitCode = 1;
    return;
  }
  if (task === 'train') {
    const { runTrainBench } = await import('./train-bench');
    await runTrainBench({
      backends,
      shapes: list(values.shape),
      methods: list(values.method),
      seqs: list(values.seq).map(Number),
      json: values.json,
      reference: !values['no-reference'],
      threads,
      repeat: Math.max(1, Number(values.repeat)),
      memoryOnly: values['memory-only'],
      recompute: list(values.recompute),
      quantizedBase: list(values['quantized-base']),
      dataParallel: parseProcessCounts(list(values['data-parallel'])),
    });
    return;
  }
  if (task === 'profile') {
    const { runProfile } = await import('./profile-bench');
    await runProfile({
      backends,
      shapes: list(values.shape),
      methods: list(values.method),
      seqs: list(values.seq).map(Number),
      batches: list(values.batch).map(Number),
      steps: Number(values.steps ?? 3),
    });
    return;
  }
  if (task === 'markdown') {
    const { renderMarkdown } = await import('./markdown');
    console.log(renderMarkdown(positionals.slice(1)));
    return;
  }
  if (task === 'leak') {
    const { runLeakBench } = await import('./leak-bench');
    await runLeakBench({
      backends,
      shapes: list(values.shape),
      methods: list(values.method),
      seqs: list(values.seq).map(Number),
      steps: Number(values.steps ?? 1000),
      json: values.json,
    });
    return;
  }
  console.error(
    'usage: npm run bench -- <generate|train|profile|leak|markdown FILE…> [--backend tensorflow,wasm,cpu] [--shape …] [--method …] [--seq …] [--threads N] [--repeat N] [--steps N] [--batch N,… (profile)] [--recompute off,on] [--quantized-base off,on] [--data-parallel N|1,N] [--json FILE] [--no-reference] [--memory-only]',
  );
  process.exitCode = 2;
}

try {
  await main();
} catch (err) {
  // One line naming what failed (a missing model, a bad flag), not a stack trace.
  console.error(`bench: ${formatApiError(toApiErrorData(err))}`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
