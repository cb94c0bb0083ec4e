// The flat-group AdamW update (small trained sets: PEFT methods) against the variable-by-variable one: the same
// values bit for bit on every backend, the same saved state in either direction, and far fewer kernels per step.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { AdamW, DEFAULT_ADAMW, FUSED_ADAMW_MAX_ELEMENTS } from './adamw';

const backends = ['cpu', ...(await probeBackends()).filter((b) => b.available && (b.name === 'wasm' || b.name === 'tensorflow')).map((b) => b.name)];

/** LoRA-like trained set: matrices (decayed), vectors and one exempt matrix (not decayed), odd sizes. */
const SHAPES = [[8, 3], [5], [3, 8], [1, 7], [6], [4, 4, 2], [2, 9]];

function makeVariables(tag: string): tf.Variable[] {
  return SHAPES.map((shape, i) => tf.variable(tf.randomNormal(shape, 0, 1, 'float32', 10 + i), true, `adamw-fused-${tag}-${i}-${Math.random().toString(36).slice(2)}`));
}
// Seeds from 1: tfjs draws an unseeded stream for seed 0.
const gradsFor = (step: number) => SHAPES.map((shape, i) => tf.randomNormal(shape, 0, 0.5 + step, 'float32', 1 + 100 * step + i));
const exempt = (variables: tf.Variable[]) => new Set([variables[3].name]);

async function values(variables: tf.Variable[]): Promise<number[][]> {
  return Promise.all(variables.map(async (v) => Array.from(await v.data())));
}

describe.each(backends)('fused AdamW on %s', (backend) => {
  it('gives exactly the variable-by-variable values over four steps (clipping scale and decay exemptions included)', async () => {
    await initBackend(backend as never);
    const [a, b] = [makeVariables('a'), makeVariables('b')];
    const fused = new AdamW(a, DEFAULT_ADAMW, exempt(a));
    const plain = new AdamW(b, DEFAULT_ADAMW, exempt(b), false);
    expect([fused.fused, plain.fused]).toEqual([true, false]);
    expect(fused.decayedNames().length).toBe(plain.decayedNames().length);
    for (let step = 0; step < 4; step++) {
      const grads = gradsFor(step);
      const [lr, scale] = [[1e-2, 3e-3, 1e-3, 5e-4][step], [1, 0.37, 1, 0.05][step]];
      fused.step(grads, lr, scale);
      plain.step(grads, lr, scale);
      tf.dispose(grads);
    }
    expect(await values(a)).toEqual(await values(b));
    const [sa, sb] = [await fused.getState(), await plain.getState()];
    expect(sa.step).toBe(4);
    expect(Object.keys(sa.tensors).sort()).toEqual(Object.keys(sb.tensors).sort());
    for (const key of Object.keys(sb.tensors)) {
      expect(sa.tensors[key].shape, key).toEqual(sb.tensors[key].shape);
      expect(Array.from(sa.tensors[key].data), key).toEqual(Array.from(sb.tensors[key].data));
    }
    fused.dispose();
    plain.dispose();
    tf.dispose([...a, ...b]);
  });

  it('resumes from either kind of saved state exactly as the uninterrupted optimiser, and frees what it made', async () => {
    await initBackend(backend as never);
    const straight = makeVariables('s');
    const uninterrupted = new AdamW(straight, DEFAULT_ADAMW, exempt(straight));
    for (let step = 0; step < 3; step++) tf.tidy(() => uninterrupted.step(gradsFor(step), 1e-2, 0.5));
    for (const fusedFirst of [true, false]) {
      const resumed = makeVariables('r');
      const first = new AdamW(resumed, DEFAULT_ADAMW, exempt(resumed), fusedFirst);
      for (let step = 0; step < 2; step++) tf.tidy(() => first.step(gradsFor(step), 1e-2, 0.5));
      const saved = await first.getState();
      first.dispose();
      const baseline = tf.memory().numTensors;
      const second = new AdamW(resumed, DEFAULT_ADAMW, exempt(resumed), !fusedFirst);
      second.setState(saved);
      tf.tidy(() => second.step(gradsFor(2), 1e-2, 0.5));
      expect(await values(resumed), `saved ${fusedFirst ? 'fused' : 'unfused'}`).toEqual(await values(straight));
      // A checkpoint for other variables is refused before anything changes.
      expect(() => second.setState({ step: 1, tensors: { ...saved.tensors, 'exp_avg.2': { shape: [9], data: new Float32Array(9) } } })).toThrow(
        /exp_avg\.2 has shape \[9\], expected \[3, 8\]/,
      );
      second.dispose();
      expect(tf.memory().numTensors).toBe(baseline);
      tf.dispose(resumed);
    }
    uninterrupted.dispose();
    tf.dispose(straight);
  });

  it('runs a step in a fraction of the kernels: ~15 per variable unfused, ~3 per variable plus a fixed few fused', async () => {
    await initBackend(backend as never);
    const variables = Array.from({ length: 40 }, (_, i) =>
      tf.variable(tf.randomNormal([4, 8], 0, 1, 'float32', i), true, `adamw-kernels-${i}-${Math.random().toString(36).slice(2)}`),
    );
    const grads = variables.map((v, i) => tf.randomNormal(v.shape, 0, 1, 'float32', 50 + i));
    const kernels: Record<string, number> = {};
    for (const fused of [true, false]) {
      const optimizer = new AdamW(variables, DEFAULT_ADAMW, new Set(), fused);
      optimizer.step(grads, 1e-3, 0.5); // first call outside the count (kernel set-up)
      const profile = await tf.profile(() => optimizer.step(grads, 1e-3, 0.5));
      kernels[fused ? 'fused' : 'unfused'] = profile.kernels.length;
      expect(profile.newTensors).toBe(0);
      optimizer.dispose();
    }
    expect(kernels.unfused).toBeGreaterThanOrEqual(15 * 40);
    expect(kernels.fused).toBeLessThanOrEqual(4 * 40 + 20);
    // One variable (Prompt Tuning): the group keeps its shape, so fusing adds no kernel.
    const one = [variables[0]];
    for (const fused of [true, false]) {
      const optimizer = new AdamW(one, DEFAULT_ADAMW, new Set(), fused);
      optimizer.step([grads[0]], 1e-3, 0.5);
      kernels[fused ? 'oneFused' : 'oneUnfused'] = (await tf.profile(() => optimizer.step([grads[0]], 1e-3, 0.5))).kernels.length;
      optimizer.dispose();
    }
    expect(kernels.oneFused).toBe(kernels.oneUnfused);
    tf.dispose([...variables, ...grads]);
  });
});

it('updates variable by variable above the size limit (full fine-tuning), where flat copies would cost memory', async () => {
  await initBackend('cpu');
  const big = tf.variable(tf.zeros([FUSED_ADAMW_MAX_ELEMENTS + 1]), true, `adamw-big-${Math.random().toString(36).slice(2)}`);
  const optimizer = new AdamW([big], DEFAULT_ADAMW);
  expect(optimizer.fused).toBe(false);
  optimizer.dispose();
  big.dispose();
});
