// `npm run bench -- leak`: 1,000 training steps (default) per method on stories260K, reporting live tensors,
// tensor bytes and RSS (after a full garbage collection) after the first step, halfway and at the end. The
// tensor count must not move; RSS may settle after warm-up (allocator, JIT) but must not keep climbing.
import * as tf from '@tensorflow/tfjs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { initBackend, type BackendName } from '../src/main/engine/backend';
import { getMethod, parseMethodOptions } from '../src/main/engine/methods/registry';
import { Trainer } from '../src/main/engine/train/trainer';
import { trainerOptions } from '../src/shared/trainer-options';
import { SHAPES } from './shapes';
import { buildModel, BATCH, syntheticExamples } from './train-bench';
import { fmt, printTable, writeJson } from './report';
import { machineInfo } from './machine';

export interface LeakRow {
  shape: string;
  backend: BackendName;
  method: string;
  seqLen: number;
  steps: number;
  msPerStep: number;
  /** After step 1 (kernels and caches set up), at step steps/2, and after the last step. */
  tensors: [number, number, number];
  tensorBytes: [number, number, number];
  rssBytes: [number, number, number];
  losses: { first: number; last: number };
}

/** A full V8 collection before each RSS sample, so garbage not yet collected does not read as growth. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

export async function runLeakBench(opts: { backends: BackendName[]; shapes: string[]; methods: string[]; seqs: number[]; steps: number; json?: string }): Promise<void> {
  const shapes = SHAPES.filter((s) => (opts.shapes.length ? opts.shapes.includes(s.name) : s.name === 'stories260K'));
  const methods = opts.methods.length ? opts.methods : ['ptplus', 'lora', 'prefix', 'prompt'];
  const seqLen = opts.seqs[0] ?? 64;
  const rows: LeakRow[] = [];
  for (const shape of shapes) {
    for (const backend of opts.backends) {
      await initBackend(backend);
      const model = await buildModel(shape);
      for (const method of methods) {
        const adapter = getMethod(method).attach(model, parseMethodOptions(method, {}) as never, { seed: 1 });
        // A small data set cycled over many epochs, as a real run would.
        const plan = { ...trainerOptions.parse({ batchSize: BATCH, maxLength: seqLen, evalEvery: 0, checkpointEvery: 0 }), learningRate: 1e-3, totalSteps: opts.steps, seed: 1 };
        const trainer = new Trainer({
          runId: 'leak',
          model,
          adapter,
          examples: syntheticExamples(BATCH * 16, seqLen, model.config.vocabSize),
          plan,
          padId: 0,
          checkpointRoot: null,
        });
        const samples: { tensors: number; bytes: number; rss: number }[] = [];
        const losses: number[] = [];
        const warnings: string[] = [];
        const started = performance.now();
        await trainer.run({
          onLog: (message) => warnings.push(message),
          onProgress: (p) => {
            losses.push(p.trainLoss);
            if (p.step === 1 || p.step === Math.floor(opts.steps / 2) || p.step === opts.steps) {
              collectGarbage();
              const memory = tf.memory();
              samples.push({ tensors: memory.numTensors, bytes: memory.numBytes, rss: process.memoryUsage().rss });
            }
            if (p.step % 100 === 0)
              console.error(`  ${shape.name} ${backend} ${method}: step ${p.step}, ${tf.memory().numTensors} tensors, RSS ${fmt.mib(process.memoryUsage().rss)}`);
          },
        });
        const msPerStep = (performance.now() - started) / opts.steps;
        trainer.dispose();
        adapter.dispose();
        for (const warning of warnings) console.error(`  warning: ${warning}`);
        rows.push({
          shape: shape.name,
          backend,
          method,
          seqLen,
          steps: opts.steps,
          msPerStep,
          tensors: samples.map((s) => s.tensors) as LeakRow['tensors'],
          tensorBytes: samples.map((s) => s.bytes) as LeakRow['tensorBytes'],
          rssBytes: samples.map((s) => s.rss) as LeakRow['rssBytes'],
          losses: { first: losses[0]!, last: losses[losses.length - 1]! },
        });
      }
      model.dispose();
    }
  }
  printTable(
    rows.map((r) => ({
      ...r,
      t0: r.tensors[0],
      t2: r.tensors[2],
      b0: r.tensorBytes[0],
      b2: r.tensorBytes[2],
      r0: r.rssBytes[0],
      r1: r.rssBytes[1],
      r2: r.rssBytes[2],
      l0: r.losses.first,
      l2: r.losses.last,
    })),
    [
      { key: 'shape', label: 'shape' },
      { key: 'backend', label: 'backend' },
      { key: 'method', label: 'method' },
      { key: 'steps', label: 'steps' },
      { key: 'msPerStep', label: 'ms/step', format: fmt.num(1) },
      { key: 't0', label: 'tensors @1' },
      { key: 't2', label: 'tensors @end' },
      { key: 'b0', label: 'bytes @1', format: fmt.mib },
      { key: 'b2', label: 'bytes @end', format: fmt.mib },
      { key: 'r0', label: 'RSS @1', format: fmt.mib },
      { key: 'r1', label: 'RSS @half', format: fmt.mib },
      { key: 'r2', label: 'RSS @end', format: fmt.mib },
      { key: 'l0', label: 'loss @1', format: fmt.num(3) },
      { key: 'l2', label: 'loss @end', format: fmt.num(3) },
    ],
  );
  writeJson(opts.json ?? 'bench-results/leak.json', { machine: machineInfo(), rows });
}
