// Every method trains the same way on every backend: three AdamW steps of each method on stories260K, on
// cpu (tfjs's reference kernels) and on wasm and native TensorFlow where they load. wasm and native take
// their own fast paths (depthwise-convolution batched products, kept transposed weights, custom gradients),
// and CI runs most suites on the native backend, so a kernel that one backend lacks or a fast path that
// computes something else would otherwise surface only in users' hands.
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, probeBackends, type BackendName } from '../backend';
import { loadModel } from '../io/load-model';
import type { StateDict } from '../methods/method';
import { METHOD_NAMES, getMethod } from '../methods/registry';
import { trainerOptions } from '@shared/trainer-options';
import type { EncodedExample } from './encode';
import { hasStoriesHf, storiesHf } from './test-fixtures';
import { Trainer } from './trainer';

// Large enough that three steps move the loss by well over the tolerance, so a wrong gradient shows.
const LEARNING_RATE = 1e-2;
const STEPS = 3;

/** 8 sequences of 20–35 tokens (padding, and batched products big enough for wasm's fast route). */
function examples(): EncodedExample[] {
  let x = 11;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: 8 }, (_, index) => {
    const length = 20 + (next() % 16);
    const ids = [1, ...Array.from({ length: length - 1 }, () => 3 + (next() % 500))];
    return { index, ids, targetStart: Math.floor(length / 2), isTruncated: false };
  });
}

interface Outcome {
  losses: number[];
  /** What training changed: final − initial trainable tensors. */
  update: StateDict;
}

async function train(backend: BackendName, method: string): Promise<Outcome> {
  await initBackend(backend);
  const { model } = await loadModel(storiesHf);
  const definition = getMethod(method);
  // Non-zero LoRA B and PT+ memory, so the first step's gradient reaches every trainable tensor.
  const options = method === 'lora' ? { dropout: 0 } : method === 'ptplus' ? { memoryInitStd: 0.02 } : {};
  const adapter = definition.attach(model, definition.options.parse(options) as never, { seed: 5 });
  const plan = {
    ...trainerOptions.parse({ batchSize: 4, maxLength: 64, evalEvery: 0, checkpointEvery: 0, warmupSteps: 0 }),
    learningRate: LEARNING_RATE,
    totalSteps: STEPS,
    seed: 2,
  };
  const initial = adapter.stateDict();
  const trainer = new Trainer({ runId: `parity-${backend}-${method}`, model, adapter, examples: examples(), plan, padId: 0, checkpointRoot: null });
  try {
    const outcome = await trainer.run();
    const final = adapter.stateDict();
    const update = Object.fromEntries(Object.entries(final).map(([name, t]) => [name, { shape: t.shape, data: t.data.map((v, i) => v - initial[name]!.data[i]!) }]));
    return { losses: outcome.losses, update };
  } finally {
    trainer.dispose();
    adapter.dispose();
    model.dispose();
  }
}

/** Cosine similarity of two updates over all their tensors. */
function cosine(a: StateDict, b: StateDict): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (const [name, tensor] of Object.entries(a)) {
    const other = b[name]!.data;
    tensor.data.forEach((v, i) => {
      dot += v * other[i]!;
      normA += v * v;
      normB += other[i]! * other[i]!;
    });
  }
  return dot / Math.sqrt(normA * normB);
}

const runsHere = hasStoriesHf();
const backends = runsHere ? (await probeBackends()).filter((b) => b.available && (b.name === 'wasm' || b.name === 'tensorflow')).map((b) => b.name) : [];

afterAll(async () => {
  await initBackend('cpu');
});

describe.skipIf(!runsHere)(`training agrees across backends: cpu vs ${backends.join(', ') || 'none'} (stories260K, 3 AdamW steps)`, () => {
  it('has at least the wasm backend to compare with cpu', () => {
    expect(backends).toContain('wasm');
  });

  it.each(METHOD_NAMES.map((m) => [m]))('%s', async (method) => {
    const reference = await train('cpu', method);
    expect(reference.losses).toHaveLength(STEPS);
    // The run must have learned something, or equal states would prove nothing.
    expect(reference.losses[STEPS - 1]).not.toBe(reference.losses[0]);
    for (const backend of backends) {
      const other = await train(backend, method);
      other.losses.forEach((loss, i) =>
        expect(Math.abs(loss - reference.losses[i]!), `${backend} loss at step ${i + 1}`).toBeLessThan(1e-4 * Math.abs(reference.losses[i]!) + 1e-5),
      );
      expect(Object.keys(other.update).sort()).toEqual(Object.keys(reference.update).sort());
      // AdamW normalises each update to about ±lr, so a gradient that is ~0 on both backends can move a
      // weight differently by float noise alone: compare the direction of the whole update instead.
      expect(cosine(other.update, reference.update), `${backend} update direction`).toBeGreaterThan(0.99);
    }
  });
});
