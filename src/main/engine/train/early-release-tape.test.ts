// releasingTapeEarly: the same loss and gradients, bit for bit, on every backend and method; a lower peak of live
// tensor bytes over the backward pass; nothing leaked; tfjs's engine left as it was, also after a throw and on
// the first gradient computation of a process (before tfjs has made any tape).
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { getMethod, parseMethodOptions } from '../methods/registry';
import { createTinyModel } from '../models/tiny-model';
import { releasingTapeEarly } from './early-release-tape';

const BACKENDS: ('cpu' | 'wasm' | 'tensorflow')[] = ['cpu', 'wasm'];

beforeAll(async () => {
  if ((await probeBackends()).some((b) => b.name === 'tensorflow' && b.available)) BACKENDS.push('tensorflow');
});
afterAll(async () => {
  await initBackend('cpu');
});

/** Loss and every gradient of one training step of `method` on a tiny gemma3 (GeGLU, q/k norms, soft-capping). */
function step(method: string, early: boolean): { values: number[][]; peakDuringBackward: number } {
  const model = createTinyModel('gemma3_text', { seed: 7 });
  const options = parseMethodOptions(method, method === 'lora' ? { dropout: 0.1 } : { memoryInitStd: 0.05 });
  const adapter = getMethod(method).attach(model, options as never, { seed: 3 });
  adapter.setTraining(true);
  const variables = adapter.trainableVariables();
  const ids = tf.tensor2d(
    Array.from({ length: 24 }, (_, i) => (i * 7) % model.config.vocabSize),
    [3, 8],
    'int32',
  );
  const engine = tf.engine() as unknown as { state: { numBytes: number; gradientDepth: number } };
  let peakDuringBackward = 0;
  const track = tf.engine().trackTensor.bind(tf.engine());
  const probe = (t: tf.Tensor, backend: unknown) => {
    track(t as never, backend as never);
    if (engine.state.gradientDepth === 0) peakDuringBackward = Math.max(peakDuringBackward, engine.state.numBytes);
  };
  Object.assign(tf.engine(), { trackTensor: probe });
  try {
    const run = () => tf.variableGrads(() => model.forward(ids, { hooks: adapter.hooks }).square().mean() as tf.Scalar, variables);
    const { value, grads } = early ? releasingTapeEarly(run) : run();
    const values = [Array.from(value.dataSync()), ...variables.map((v) => Array.from(grads[v.name].dataSync()))];
    tf.dispose([value, ...Object.values(grads)]);
    return { values, peakDuringBackward };
  } finally {
    delete (tf.engine() as unknown as { trackTensor?: unknown }).trackTensor;
    ids.dispose();
    adapter.dispose();
    model.dispose();
  }
}

describe('releasingTapeEarly', () => {
  it.each(['lora', 'ptplus'])('%s: the same loss and gradients bit for bit, a lower backward peak, nothing leaked', async (method) => {
    for (const backend of BACKENDS) {
      await initBackend(backend);
      const plain = step(method, false);
      const before = tf.memory().numTensors;
      const early = step(method, true);
      expect(tf.memory().numTensors, backend).toBe(before);
      expect(early.values, backend).toEqual(plain.values);
      expect(early.values.slice(1).some((g) => g.some((v) => v !== 0))).toBe(true);
      expect(early.peakDuringBackward, backend).toBeLessThan(plain.peakDuringBackward);
    }
  });

  it('leaves the engine as it was, after a throw too', async () => {
    await initBackend('cpu');
    const engine = tf.engine();
    expect(Object.prototype.hasOwnProperty.call(engine, 'addTapeNode')).toBe(false);
    const x = tf.variable(tf.scalar(2));
    expect(() =>
      releasingTapeEarly(() =>
        tf.variableGrads(() => {
          x.square();
          throw new Error('inside the forward');
        }, [x]),
      ),
    ).toThrow('inside the forward');
    expect(Object.prototype.hasOwnProperty.call(engine, 'addTapeNode')).toBe(false);
    x.dispose();
  });

  it('works on the first gradient of a process, before tfjs has made any tape', async () => {
    await initBackend('cpu');
    const x = tf.variable(tf.randomNormal([32, 32], 0, 1, 'float32', 5));
    const f = () => {
      let h: tf.Tensor = x;
      for (let i = 0; i < 8; i++) h = h.mul(h).add(h).tanh();
      return h.sum() as tf.Scalar;
    };
    const backwardPeak = (early: boolean): number => {
      delete (tf.engine().state as unknown as { activeTape?: unknown }).activeTape; // as in a fresh process
      const state = tf.engine().state as unknown as { numBytes: number; gradientDepth: number };
      let peak = 0;
      const track = tf.engine().trackTensor.bind(tf.engine());
      Object.assign(tf.engine(), {
        trackTensor: (t: tf.Tensor, backend: unknown) => {
          track(t as never, backend as never);
          if (state.gradientDepth === 0) peak = Math.max(peak, state.numBytes);
        },
      });
      try {
        const run = () => tf.variableGrads(f, [x]);
        const { value, grads } = early ? releasingTapeEarly(run) : run();
        tf.dispose([value, ...Object.values(grads)]);
      } finally {
        delete (tf.engine() as unknown as { trackTensor?: unknown }).trackTensor;
      }
      return peak;
    };
    expect(backwardPeak(true)).toBeLessThan(backwardPeak(false));
    x.dispose();
  });
});
