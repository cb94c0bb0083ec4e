// `npm run bench -- train`: median ms per training step (after warm-up), training tokens/s, peak tensor
// memory and RSS, trainable parameters — per method × backend × shape × sequence length, at batch 8 — with a
// PyTorch reference of the same model, method, shape and thread count in the same run. Also the scaling
// figures: ms/step against sequence length, and Prefix-Tuning's cost against prefix length p next to PT+.
// `--recompute off,on` measures every row without and with activation recomputation (block-recompute.ts): the
// peak tensor memory and ms/step columns then show what it saves and what it costs.
// `--quantized-base off,on` loads a GGUF shape both ways (trainer option quantizedBase: the layers' quantized
// matrices kept as blocks and dequantized inside each step). peakRssBytes is the highest RSS sampled between
// steps; processMaxRssBytes is the process's high-water mark (getrusage), which only a run of one mode alone
// (one process per mode) attributes to that mode.
import * as tf from '@tensorflow/tfjs';
import { explainBackendFailure, initBackend, isWasmAbort, probeBackends, type BackendName } from '../src/main/engine/backend';
import { loadModel } from '../src/main/engine/io/load-model';
import { BaseCausalLM } from '../src/main/engine/models/causal-lm';
import { createRandomModel } from '../src/main/engine/models/random-init';
import type { CausalLM } from '../src/main/engine/models/causal-lm';
import { prefixTokenDim } from '../src/main/engine/methods/prefix';
import { getMethod, parseMethodOptions } from '../src/main/engine/methods/registry';
import { Trainer, type ReplicaTimes } from '../src/main/engine/train/trainer';
import { startReplicas, type GradientReplicas } from '../src/main/engine/train/replicas';
import { trainerOptions } from '../src/shared/trainer-options';
import type { EncodedExample } from '../src/main/engine/train/encode';
import { SHAPES, type ShapeSpec } from './shapes';
import { torchReference } from './torch-reference';
import { fmt, median, printTable, writeJson } from './report';
import { machineInfo } from './machine';
import { combineRepeats } from './repeat-rows';

export interface TrainRow {
  method: string;
  backend: BackendName;
  shape: string;
  seqLen: number;
  batch: number;
  msPerStep: number;
  tokensPerSecond: number;
  peakTensorBytes: number;
  peakRssBytes: number;
  trainableParams: number;
  /** Whether blocks recomputed their activations in the backward pass (trainer option recompute 'on'). */
  recompute: boolean;
  /** Whether the GGUF base kept its quantized layer matrices as blocks (trainer option quantizedBase 'on'). */
  quantizedBase: boolean;
  /** The process's peak RSS so far (getrusage maxrss): the mode's own only when the process ran that mode alone. */
  processMaxRssBytes?: number;
  /** Options beyond the method's defaults (the scaling sweep sets p). */
  options?: Record<string, unknown>;
  reference?: {
    name: string;
    tokensPerSecond: number;
    msPerStep?: number;
    threads: number;
    runsMs?: number[];
    /** The reference's RSS sampled between its steps, and its process high-water mark (max over repeats). */
    peakRssBytes?: number;
    processMaxRssBytes?: number;
  };
  /** ms/step of each repeat (with --repeat). */
  runsMs?: number[];
  /** --memory-only: one warm-up step and the profiled one, no timed steps; msPerStep is that one step's time. */
  memoryOnly?: boolean;
  /** --data-parallel N (N > 1): processes sharing each step's rows, this one included. */
  dataParallel?: number;
  /**
   * --data-parallel 1,N: this row's median step against the one-process row's, both measured in the same
   * invocation and alternated within each repeat (one-process ms ÷ this row's ms).
   */
  overOneProcess?: number;
  /** --data-parallel: the highest RSS a replica reported with a step's gradients live (peakRssBytes is this process's). */
  replicaPeakRssBytes?: number;
  /**
   * --data-parallel: medians over the timed steps of where a step's time went (trainer ReplicaTimes): this
   * process's own share, its wait for the replicas after it, the slowest replica's own time, the gradient sum;
   * the rest of msPerStep is the update, batching and sending.
   */
  replicaTimes?: { ownMs: number; waitMs: number; replicaMs: number; sumMs: number };
}

/** What replicas need to build the row's model (--data-parallel). */
export interface ParallelSetup {
  processes: number;
  shape: ShapeSpec;
  quantizedBase: boolean;
  backend: BackendName;
  threads: number;
}

/** A row that could not be measured (out of memory on wasm, say), listed with its reason. */
export interface FailedRow {
  method: string;
  backend: BackendName;
  shape: string;
  seqLen: number;
  batch: number;
  recompute: boolean;
  quantizedBase: boolean;
  error: string;
}

export const BATCH = 8;
const WARMUP_STEPS = 2;
const TIMED_STEPS = 5;
const DEFAULT_SEQS = [64, 256, 1024];
const DEFAULT_METHODS = ['ptplus', 'lora', 'prefix', 'prompt'];

export async function buildModel(shape: ShapeSpec, quantizedBase = false): Promise<CausalLM> {
  if (shape.path) return (await loadModel(shape.path, { quantizedBase })).model;
  return createRandomModel(shape.config!, 1);
}

/** Random token rows of exactly seqLen tokens; the second half is the trained target. */
export function syntheticExamples(count: number, seqLen: number, vocab: number): EncodedExample[] {
  let state = 12345;
  const next = () => (state = (state * 1664525 + 1013904223) >>> 0);
  return Array.from({ length: count }, (_, index) => ({
    index,
    ids: Array.from({ length: seqLen }, () => 3 + (next() % (vocab - 3))),
    targetStart: Math.floor(seqLen / 2),
    isTruncated: false,
  }));
}

export async function measureTrainStep(
  model: CausalLM,
  method: string,
  seqLen: number,
  optionsOverride: Record<string, unknown> = {},
  recompute = false,
  memoryOnly = false,
  parallel?: ParallelSetup,
): Promise<Omit<TrainRow, 'backend' | 'shape' | 'reference' | 'quantizedBase'>> {
  const definition = getMethod(method);
  const options = parseMethodOptions(method, optionsOverride);
  const adapter = definition.attach(model, options as never, { seed: 1 });
  let replicas: GradientReplicas | undefined;
  if (parallel && parallel.processes > 1) {
    const { shape } = parallel;
    replicas = await startReplicas(
      parallel.processes - 1,
      {
        model: shape.path ? { path: shape.path, load: { quantizedBase: parallel.quantizedBase } } : { config: shape.config!, seed: 1 },
        method,
        methodOptions: optionsOverride,
        seed: 1,
        backend: parallel.backend,
      },
      adapter.stateDict(),
      { threads: parallel.threads, shapes: adapter.trainableVariables().map((v) => v.shape), onLog: (line) => console.error(`  ${line}`) },
    );
  }
  const stepMs: number[] = [];
  let peakRss = process.memoryUsage().rss;
  let peakTensorBytes = 0;
  let replicaPeakRssBytes = 0;
  const replicaTimes: ReplicaTimes[] = [];
  try {
    const steps = memoryOnly ? 1 : WARMUP_STEPS + TIMED_STEPS;
    const trainerFor = (totalSteps: number): Trainer => {
      const plan = {
        ...trainerOptions.parse({ batchSize: BATCH, maxLength: seqLen, evalEvery: 0, checkpointEvery: 0, recompute: recompute ? 'on' : 'off' }),
        learningRate: 1e-4,
        totalSteps,
        seed: 1,
      };
      return new Trainer({
        runId: 'bench',
        model,
        adapter,
        examples: syntheticExamples(BATCH * totalSteps, seqLen, model.config.vocabSize),
        plan,
        padId: 0,
        checkpointRoot: null,
        replicas,
        onReplicaTimes: (times) => void replicaTimes.push(times),
      });
    };
    // Timed steps run unprofiled (tf.profile adds per-kernel bookkeeping); one more step under tf.profile gives
    // the peak of live tensor bytes within a step.
    const timed = trainerFor(steps);
    let last = performance.now();
    await timed.run({
      onProgress: () => {
        const now = performance.now();
        stepMs.push(now - last);
        last = now;
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      },
    });
    timed.dispose();
    const profiled = trainerFor(1);
    const profile = await tf.profile(async () => {
      await profiled.run();
    });
    peakTensorBytes = profile.peakBytes;
    profiled.dispose();
    replicaPeakRssBytes = replicas?.peakRssBytes ?? 0;
  } finally {
    replicas?.close();
  }
  const trainableParams = adapter.trainableParamCount();
  adapter.dispose();
  const msPerStep = memoryOnly ? stepMs[0]! : median(stepMs.slice(WARMUP_STEPS));
  return {
    method,
    seqLen,
    batch: BATCH,
    msPerStep,
    tokensPerSecond: (BATCH * seqLen) / (msPerStep / 1000),
    peakTensorBytes,
    peakRssBytes: peakRss,
    processMaxRssBytes: process.resourceUsage().maxRSS * 1024,
    trainableParams,
    recompute,
    options: Object.keys(optionsOverride).length ? optionsOverride : undefined,
    ...(memoryOnly ? { memoryOnly } : {}),
    ...(replicas ? { dataParallel: parallel!.processes, replicaPeakRssBytes, replicaTimes: medianTimes(replicaTimes.slice(WARMUP_STEPS, WARMUP_STEPS + TIMED_STEPS)) } : {}),
  };
}

/** Each field's median over the steps (undefined fields when none ran: a memory-only row). */
function medianTimes(steps: ReplicaTimes[]): TrainRow['replicaTimes'] {
  if (steps.length === 0) return undefined;
  const of = (key: keyof ReplicaTimes) => median(steps.map((t) => t[key]));
  return { ownMs: of('ownMs'), waitMs: of('waitMs'), replicaMs: of('replicaMs'), sumMs: of('sumMs') };
}

/** What the PyTorch reference needs to train the same method the same way (PEFT's names for our options). */
function referenceRequest(model: CausalLM, method: string, optionsOverride: Record<string, unknown> = {}): Record<string, unknown> {
  const o = parseMethodOptions(method, optionsOverride);
  switch (method) {
    case 'lora':
      return { targets: loraTargets(model), rank: o.rank, alpha: o.alpha, dropout: o.dropout };
    case 'prefix':
      return { p: o.numVirtualTokens, projection: o.projection, encoderHidden: o.encoderHiddenSize ?? prefixTokenDim(model.config) };
    case 'prompt':
      return { p: o.numVirtualTokens };
    case 'ptplus':
      return { featureMap: o.featureMap, perHead: o.memory === 'per-head' };
    default:
      return {};
  }
}

export async function runTrainBench(opts: {
  backends: BackendName[];
  shapes: string[];
  methods: string[];
  seqs: number[];
  json?: string;
  reference: boolean;
  threads: number;
  repeat: number;
  /** 'off' and/or 'on': each row is measured in each mode (default off). */
  recompute?: string[];
  /** 'off' and/or 'on': each GGUF shape is loaded with and/or without a quantized base (default off). */
  quantizedBase?: string[];
  /** Memory only: no timed steps (a change that moves memory, measured on a busy machine). */
  memoryOnly?: boolean;
  /**
   * Process counts sharing each step's rows (default [1]: this one alone; parseProcessCounts checks the flag).
   * Several (1,2) are measured alternately within each repeat, like ours and PyTorch, so their ratio comes from
   * one stretch of time.
   */
  dataParallel?: number[];
}): Promise<void> {
  const processCounts = [...new Set(opts.dataParallel?.length ? opts.dataParallel : [1])].sort((a, b) => a - b);
  const processes = processCounts[processCounts.length - 1]!;
  // The reference gets the cores our processes use together (the most of any count measured).
  const referenceThreads = opts.threads * processes;
  const rows: TrainRow[] = [];
  const scaling: TrainRow[] = [];
  const failed: FailedRow[] = [];
  const methods = opts.methods.length ? opts.methods : DEFAULT_METHODS;
  const seqs = opts.seqs.length ? opts.seqs : DEFAULT_SEQS;
  const modes = opts.recompute?.length ? opts.recompute : ['off'];
  for (const mode of modes) if (mode !== 'off' && mode !== 'on') throw new Error(`--recompute ${mode}: use off, on or off,on`);
  const quantizedModes = opts.quantizedBase?.length ? opts.quantizedBase : ['off'];
  for (const mode of quantizedModes) if (mode !== 'off' && mode !== 'on') throw new Error(`--quantized-base ${mode}: use off, on or off,on`);
  const shapes = SHAPES.filter((s) => (opts.shapes.length ? opts.shapes.includes(s.name) : s.name === 'stories260K' || s.name === 'tiny-4x256'));
  const available = new Set((await probeBackends()).filter((b) => b.available).map((b) => b.name));
  const deadBackends = new Set<BackendName>();
  for (const shape of shapes) {
    for (const [backend, quantizedBase] of opts.backends.filter((b) => available.has(b)).flatMap((b) => quantizedModes.map((mode) => [b, mode === 'on'] as const))) {
      if (deadBackends.has(backend)) continue;
      // Only a GGUF shape has a quantized base to keep.
      if (quantizedBase && !shape.path?.endsWith('.gguf')) continue;
      await initBackend(backend);
      const model = await buildModel(shape, quantizedBase);
      if (quantizedBase && !(model instanceof BaseCausalLM && model.quantizedBase().names.length)) throw new Error(`${shape.name}: no quantized matrices kept`);
      for (const seqLen of seqs.filter((s) => s <= model.config.maxPositions)) {
        for (const [method, recompute] of methods.flatMap((m) => modes.map((mode) => [m, mode === 'on'] as const))) {
          if (deadBackends.has(backend)) break;
          const labelOf = (count: number) =>
            `${shape.name} ${backend} T=${seqLen} ${method}${recompute ? ' recompute' : ''}${quantizedBase ? ' quantized-base' : ''}${count > 1 ? ` data-parallel ${count}` : ''}`;
          // Ours (at each process count) and PyTorch alternate `repeat` times; medians of each, so load from
          // other processes on a shared machine hits every side alike.
          const ours = new Map<number, Omit<TrainRow, 'backend' | 'shape' | 'reference' | 'quantizedBase'>[]>(processCounts.map((n) => [n, []]));
          const refs: NonNullable<ReturnType<typeof torchReference>>[] = [];
          let rowFailed = false;
          for (let r = 0; r < opts.repeat && !rowFailed; r++) {
            // PyTorch first: our process keeps much of its step's peak RSS afterwards, and Gemma-3-270M's PT+
            // reference at T = 256 started beside it was killed by the kernel's OOM killer (13.2 GB anon RSS).
            if (opts.reference) {
              // Same task as ours: batch 8 of seqLen tokens, loss on the second half (targetStart), same options.
              const ref = torchReference(
                { task: 'train', shape, method, batch: BATCH, seqLen, steps: TIMED_STEPS, targetStart: Math.floor(seqLen / 2), ...referenceRequest(model, method) },
                referenceThreads,
              );
              if (ref) refs.push(ref);
            }
            for (const count of processCounts) {
              try {
                const parallel = count > 1 ? { processes: count, shape, quantizedBase, backend, threads: opts.threads } : undefined;
                ours.get(count)!.push(await measureTrainStep(model, method, seqLen, {}, recompute, opts.memoryOnly, parallel));
              } catch (caught) {
                // A row that cannot run is a result too; a wasm abort leaves the module unusable, so the
                // backend's remaining rows are skipped and the next backend goes on.
                const err = explainBackendFailure(caught, backend);
                if (isWasmAbort(caught, backend)) deadBackends.add(backend);
                failed.push({ backend, shape: shape.name, method, seqLen, batch: BATCH, recompute, quantizedBase, error: err instanceof Error ? err.message : String(err) });
                console.error(`  ${labelOf(count)}: failed: ${failed[failed.length - 1]!.error}`);
                rowFailed = true;
                break;
              }
            }
          }
          if (rowFailed) continue;
          for (const measured of combineRepeats({ runs: ours, refs, tokensPerStep: BATCH * seqLen, referenceThreads })) {
            const row: TrainRow = { backend, shape: shape.name, quantizedBase, ...measured };
            rows.push(row);
            console.error(`  ${labelOf(row.dataParallel ?? 1)}: ${row.msPerStep.toFixed(1)} ms/step${row.reference ? ` (torch ${row.reference.msPerStep!.toFixed(1)})` : ''}`);
          }
        }
      }
      if (deadBackends.has(backend)) continue; // nothing more can run on it in this process, not even dispose
      // Prefix-Tuning's cost grows with p (longer keys in every layer); PT+'s memory does not depend on it.
      // Measured on the small shapes only: on a real model the sweep would take longer than the rows themselves.
      if (shape.path?.endsWith('.gguf') || opts.memoryOnly) {
        model.dispose();
        continue;
      }
      const scalingSeq = Math.min(64, model.config.maxPositions);
      if (methods.includes('prefix')) {
        for (const p of [4, 16, 64, 256])
          scaling.push({ backend, shape: shape.name, quantizedBase, ...(await measureTrainStep(model, 'prefix', scalingSeq, { numVirtualTokens: p })) });
      }
      if (methods.includes('ptplus')) scaling.push({ backend, shape: shape.name, quantizedBase, ...(await measureTrainStep(model, 'ptplus', scalingSeq)) });
      model.dispose();
    }
  }
  const table = rows.map((r) => ({
    ...r,
    recomputed: r.recompute ? 'on' : 'off',
    quantized: r.quantizedBase ? 'on' : 'off',
    ref: r.reference?.tokensPerSecond,
    ratio: r.reference ? r.tokensPerSecond / r.reference.tokensPerSecond : undefined,
    processes: r.dataParallel ?? 1,
    refRss: r.reference?.peakRssBytes,
    refMaxRss: r.reference?.processMaxRssBytes,
    // own share · wait after it · slowest replica's own time · gradient sum (ms, medians)
    split: r.replicaTimes ? [r.replicaTimes.ownMs, r.replicaTimes.waitMs, r.replicaTimes.replicaMs, r.replicaTimes.sumMs].map((ms) => ms.toFixed(0)).join(' · ') : undefined,
  }));
  printTable(table, [
    { key: 'shape', label: 'shape' },
    { key: 'backend', label: 'backend' },
    { key: 'seqLen', label: 'T' },
    { key: 'method', label: 'method' },
    { key: 'recomputed', label: 'recompute' },
    { key: 'quantized', label: 'quantized base' },
    { key: 'processes', label: 'processes' },
    { key: 'msPerStep', label: 'ms/step', format: fmt.num(1) },
    { key: 'overOneProcess', label: '× 1 process', format: fmt.num(2) },
    { key: 'tokensPerSecond', label: 'tok/s', format: fmt.num(0) },
    { key: 'ref', label: 'torch tok/s', format: fmt.num(0) },
    { key: 'ratio', label: '× torch', format: fmt.num(3) },
    { key: 'peakTensorBytes', label: 'peak tensors', format: fmt.mib },
    { key: 'peakRssBytes', label: 'peak RSS', format: fmt.mib },
    { key: 'processMaxRssBytes', label: 'process max RSS', format: fmt.mib },
    { key: 'replicaPeakRssBytes', label: 'replica peak RSS', format: fmt.mib },
    { key: 'split', label: 'own · wait · replica · sum ms' },
    { key: 'refRss', label: 'torch peak RSS', format: fmt.mib },
    { key: 'refMaxRss', label: 'torch process max RSS', format: fmt.mib },
    { key: 'trainableParams', label: 'trainable', format: fmt.int },
  ]);
  if (scaling.length) {
    console.log('\nPrefix length p (Prefix-Tuning) vs PT+ (no p), T = 64:');
    printTable(
      scaling.map((r) => ({ ...r, p: r.options?.numVirtualTokens ?? '—' })),
      [
        { key: 'shape', label: 'shape' },
        { key: 'backend', label: 'backend' },
        { key: 'method', label: 'method' },
        { key: 'p', label: 'p' },
        { key: 'msPerStep', label: 'ms/step', format: fmt.num(1) },
        { key: 'peakTensorBytes', label: 'peak tensors', format: fmt.mib },
      ],
    );
  }
  for (const f of failed)
    console.log(`not measured: ${f.shape} ${f.backend} T=${f.seqLen} ${f.method}${f.recompute ? ' recompute' : ''}${f.quantizedBase ? ' quantized-base' : ''}: ${f.error}`);
  writeJson(opts.json ?? 'bench-results/train.json', {
    machine: machineInfo(),
    threads: opts.threads,
    ...(processCounts.length > 1 ? { dataParallel: processCounts } : processes > 1 ? { dataParallel: processes } : {}),
    rows,
    failed,
  });
  writeJson((opts.json ?? 'bench-results/train.json').replace(/\.json$/, '') + '.scaling.json', { machine: machineInfo(), scaling });
}

/** The LoRA targets our defaults use, named as PEFT expects them for the reference. */
function loraTargets(model: CausalLM): string[] {
  switch (model.config.architecture) {
    case 'gpt2':
      return ['c_attn'];
    case 'gpt_neox':
      return ['query_key_value'];
    default:
      return ['q_proj', 'v_proj'];
  }
}
