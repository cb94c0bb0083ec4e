// AdamW against a hand-computed reference, decay exemptions, state round trip; learning-rate schedules.
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { AdamW } from './adamw';
import { lrAt } from './schedule';

beforeAll(async () => {
  await initBackend('cpu');
});

const created: tf.Variable[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});
function variable(values: number[], shape: number[], name: string): tf.Variable {
  const v = tf.variable(tf.tensor(values, shape), true, `${name}${created.length}_${Math.random().toString(36).slice(2)}`);
  created.push(v);
  return v;
}

/** torch.optim.AdamW written out in float64 for one parameter vector. */
function referenceAdamW(theta: number[], grads: number[][], lrs: number[], cfg: { beta1: number; beta2: number; eps: number; wd: number }): number[] {
  const p = [...theta];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, stepIndex) => {
    const t = stepIndex + 1;
    const lr = lrs[stepIndex];
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lr * cfg.wd;
      m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * g[i];
      v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - cfg.beta1 ** t);
      const vHat = v[i] / (1 - cfg.beta2 ** t);
      p[i] -= (lr * mHat) / (Math.sqrt(vHat) + cfg.eps);
    }
  });
  return p;
}

describe('AdamW', () => {
  const cfg = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1 };

  it('matches a hand-computed AdamW over three steps, with decoupled decay on matrices only', async () => {
    const matrix = variable([0.5, -1.0, 2.0, 0.25], [2, 2], 'w');
    const bias = variable([0.3, -0.7], [2], 'b');
    const optimizer = new AdamW([matrix, bias], cfg);
    const gradsW = [
      [0.1, -0.2, 0.3, 0.0],
      [0.05, 0.4, -0.1, 0.2],
      [-0.3, 0.1, 0.0, 0.5],
    ];
    const gradsB = [
      [1.0, -2.0],
      [0.5, 0.5],
      [-1.0, 0.0],
    ];
    const lrs = [0.01, 0.02, 0.005];
    for (let s = 0; s < 3; s++) {
      const g = [tf.tensor(gradsW[s], [2, 2]), tf.tensor(gradsB[s], [2])];
      optimizer.step(g, lrs[s]);
      tf.dispose(g);
    }
    const expectedW = referenceAdamW([0.5, -1.0, 2.0, 0.25], gradsW, lrs, { beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.1 });
    const expectedB = referenceAdamW([0.3, -0.7], gradsB, lrs, { beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0 });
    const gotW = Array.from(await matrix.data());
    const gotB = Array.from(await bias.data());
    gotW.forEach((v, i) => expect(v).toBeCloseTo(expectedW[i], 6));
    gotB.forEach((v, i) => expect(v).toBeCloseTo(expectedB[i], 6));
    expect(optimizer.decayedNames()).toEqual([matrix.name]);
    optimizer.dispose();
  });

  it('gradScale multiplies the gradient (clipping) and named variables can be exempt from decay', async () => {
    const a = variable([1, 2, 3, 4], [2, 2], 'a');
    const optimizer = new AdamW([a], cfg, new Set([a.name]));
    expect(optimizer.decayedNames()).toEqual([]);
    const g = tf.tensor([2, 2, 2, 2], [2, 2]);
    optimizer.step([g], 0.1, 0.5);
    // No decay; the first Adam step moves each weight by lr·sign(g) whatever the scale.
    expect(Array.from(await a.data()).map((v) => Number(v.toFixed(5)))).toEqual([0.9, 1.9, 2.9, 3.9]);
    g.dispose();
    optimizer.dispose();
  });

  it('restoring saved state continues exactly as the uninterrupted optimiser', async () => {
    const start = [0.1, 0.2, -0.3, 0.4, 0.5, -0.6];
    const grads = [
      [1, 2, 3, 4, 5, 6],
      [-1, 0.5, 0, 2, -3, 1],
      [0.2, 0.2, -0.2, 0.1, 0, 0.3],
    ];
    const straight = variable(start, [2, 3], 's');
    const first = new AdamW([straight], cfg);
    for (const g of grads) tf.tidy(() => first.step([tf.tensor(g, [2, 3])], 0.01));

    const resumed = variable(start, [2, 3], 'r');
    const before = new AdamW([resumed], cfg);
    for (const g of grads.slice(0, 2)) tf.tidy(() => before.step([tf.tensor(g, [2, 3])], 0.01));
    const saved = await before.getState();
    const weights = await resumed.data();
    before.dispose();
    const again = variable(Array.from(weights), [2, 3], 'r2');
    const after = new AdamW([again], cfg);
    after.setState(saved);
    expect(after.stepCount).toBe(2);
    tf.tidy(() => after.step([tf.tensor(grads[2], [2, 3])], 0.01));
    expect(Array.from(await again.data())).toEqual(Array.from(await straight.data()));
    expect(() => after.setState({ step: 1, tensors: {} })).toThrow(/exp_avg\.0/);
    first.dispose();
    after.dispose();
  });

  it('unfused moments (full fine-tuning) are read only when a checkpoint writer asks for them', async () => {
    const w = variable([0.1, 0.2, 0.3], [3], 'lazy');
    const optimizer = new AdamW([w], cfg, new Set(), false);
    tf.tidy(() => optimizer.step([tf.tensor([1, 2, 3])], 0.01));
    const sources = optimizer.stateSources();
    // A step after the sources were made shows in what they read: nothing was copied out up front.
    tf.tidy(() => optimizer.step([tf.tensor([-1, 0.5, 2])], 0.01));
    const state = await optimizer.getState();
    expect(Object.keys(sources.tensors)).toEqual(Object.keys(state.tensors));
    for (const [key, { data }] of Object.entries(state.tensors)) expect(Array.from(sources.tensors[key].read())).toEqual(Array.from(data));
    optimizer.dispose();
  });

  it('allocates no tensors beyond its moments and frees them on dispose', () => {
    const w = variable([1, 2], [1, 2], 'leak');
    const baseline = tf.memory().numTensors;
    const optimizer = new AdamW([w], cfg);
    const g = tf.tensor([[0.1, 0.2]]);
    for (let i = 0; i < 3; i++) optimizer.step([g], 0.01);
    g.dispose();
    expect(tf.memory().numTensors).toBe(baseline + 2);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});

describe('learning-rate schedules', () => {
  const base = { peakLr: 1, totalSteps: 10, warmupSteps: 2, minLrRatio: 0 };

  it('warms up linearly to the peak and never uses a zero rate', () => {
    expect(lrAt({ ...base, kind: 'cosine' }, 0)).toBeCloseTo(0.5);
    expect(lrAt({ ...base, kind: 'cosine' }, 1)).toBeCloseTo(1);
    expect(lrAt({ ...base, kind: 'constant' }, 5)).toBe(1);
  });

  it('cosine and linear decay over the steps after warm-up towards minLrRatio·peak', () => {
    // decay steps 2..9, progress (step − 2) / 8
    expect(lrAt({ ...base, kind: 'cosine' }, 2)).toBeCloseTo(1);
    expect(lrAt({ ...base, kind: 'cosine' }, 6)).toBeCloseTo(0.5);
    expect(lrAt({ ...base, kind: 'cosine' }, 9)).toBeCloseTo(0.5 * (1 + Math.cos((Math.PI * 7) / 8)));
    expect(lrAt({ ...base, kind: 'linear' }, 6)).toBeCloseTo(0.5);
    expect(lrAt({ ...base, kind: 'linear' }, 9)).toBeCloseTo(1 / 8);
    expect(lrAt({ ...base, kind: 'linear', minLrRatio: 0.1 }, 6)).toBeCloseTo(0.1 + 0.9 * 0.5);
    expect(lrAt({ ...base, kind: 'cosine', warmupSteps: 0 }, 0)).toBeCloseTo(1);
  });
});
