// `npm run bench -- profile`: where a training step's time goes, per kernel (tf.profile), for one method ×
// backend × shape × sequence length × batch (8 unless --batch; comparing 4 with 8 shows which kernels do not halve
// with the rows, what keeps --data-parallel 2 from 2×). Kernel times include tfjs's per-op overhead on that backend.
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from '../src/main/engine/backend';
import { getMethod, parseMethodOptions } from '../src/main/engine/methods/registry';
import { Trainer } from '../src/main/engine/train/trainer';
import { trainerOptions } from '../src/shared/trainer-options';
import { SHAPES } from './shapes';
import { buildModel, BATCH, syntheticExamples } from './train-bench';
import { productThroughput } from './product-flops';
import { fmt, printTable } from './report';

export async function runProfile(opts: { backends: BackendName[]; shapes: string[]; methods: string[]; seqs: number[]; batches?: number[]; steps: number }): Promise<void> {
  const shapes = SHAPES.filter((s) => (opts.shapes.length ? opts.shapes.includes(s.name) : s.name === 'tiny-4x256'));
  const methods = opts.methods.length ? opts.methods : ['lora', 'ptplus'];
  const seqs = opts.seqs.length ? opts.seqs : [64];
  const batches = opts.batches?.length ? opts.batches : [BATCH];
  for (const shape of shapes) {
    for (const backend of opts.backends) {
      await initBackend(backend);
      const model = await buildModel(shape);
      for (const seqLen of seqs) {
        for (const method of methods) {
          for (const batch of batches) {
            const adapter = getMethod(method).attach(model, parseMethodOptions(method, {}) as never, { seed: 1 });
            const warmup = 1;
            const steps = warmup + opts.steps;
            const plan = { ...trainerOptions.parse({ batchSize: batch, maxLength: seqLen, evalEvery: 0, checkpointEvery: 0 }), learningRate: 1e-4, totalSteps: steps, seed: 1 };
            const examples = syntheticExamples(batch * steps, seqLen, model.config.vocabSize);
            const trainer = new Trainer({ runId: 'profile', model, adapter, examples, plan, padId: 0, checkpointRoot: null });
            // One warm-up step outside the profile (kernel set-up, first allocations).
            let stepsDone = 0;
            const stepStarts: number[] = [];
            const profile = await tf.profile(async () => {
              await trainer.run({
                onProgress: () => {
                  stepsDone++;
                  stepStarts.push(performance.now());
                },
              });
            });
            // Only kernels after the warm-up step: kernels are recorded in order; split by count.
            const perKernel = new Map<string, { ms: number; calls: number }>();
            const kernels = profile.kernels.slice(Math.floor(profile.kernels.length / steps) * warmup);
            let total = 0;
            for (const k of kernels) {
              const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
              const entry = perKernel.get(k.name) ?? { ms: 0, calls: 0 };
              entry.ms += ms / opts.steps;
              entry.calls += 1 / opts.steps;
              perKernel.set(k.name, entry);
              total += ms / opts.steps;
            }
            const stepMs = (stepStarts[stepStarts.length - 1]! - stepStarts[0]!) / Math.max(1, stepsDone - 1);
            console.log(
              `\n${shape.name} ${backend} T=${seqLen} B=${batch} ${method}: ${stepMs.toFixed(1)} ms/step (profiled), kernels ${total.toFixed(1)} ms/step, ${(kernels.length / opts.steps).toFixed(0)} kernel calls/step, peak ${fmt.mib(profile.peakBytes)}`,
            );
            const rows = [...perKernel.entries()]
              .map(([name, e]) => ({ name, ms: e.ms, calls: e.calls, share: e.ms / total }))
              .sort((a, b) => b.ms - a.ms)
              .slice(0, 18);
            printTable(rows, [
              { key: 'name', label: 'kernel' },
              { key: 'ms', label: 'ms/step', format: fmt.num(1) },
              { key: 'calls', label: 'calls/step', format: fmt.num(0) },
              { key: 'share', label: 'share', format: (v) => `${((v as number) * 100).toFixed(1)}%` },
            ]);
            // How close the products run to the machine's peak (the bound a backend cannot pass by fewer kernels).
            for (const p of productThroughput(kernels, opts.steps)) {
              console.log(`  products (${p.kernel}): ${p.gflopPerStep.toFixed(1)} GFLOP/step in ${p.msPerStep.toFixed(0)} ms → ${p.gflops.toFixed(1)} GFLOPS`);
            }
            if (process.env.PROFILE_SHAPES) {
              const byShape = new Map<string, number>();
              for (const k of kernels) {
                const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
                byShape.set(key, (byShape.get(key) ?? 0) + (k.kernelTimeMs as number) / opts.steps);
              }
              for (const [key, ms] of [...byShape].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${ms.toFixed(1).padStart(8)} ms  ${key}`);
            }
            trainer.dispose();
            adapter.dispose();
          }
        }
      }
      model.dispose();
    }
  }
}
