// The fast ops give what tfjs's generic formulation gives, values and gradients, on wasm (where they take
// other routes: explicit transposes, depthwise-conv products, kept transposed weights) and on cpu; and a whole
// training gradient of every family agrees between wasm and cpu.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { getMethod, parseMethodOptions } from '../methods/registry';
import { scaledDotProductAttention } from './attention';
import { createTinyModel, type TinyArchitecture } from './tiny-model';
import { batchedProduct, batchMatMul, dropoutKeepingMask, embeddingLookup, linearProduct, matMul2d, scaleBy, selectRows } from './ops';
import { applyRotary, rotaryTables } from './rope';
import { activate, gatedActivation, layerNorm, residualAdd, rmsNorm } from './blocks';
import { targetNll } from '../train/loss';
import { collate } from '../train/batches';

// The native backend joins when it loads here (scripts/native-tf/setup.sh); cpu and wasm always run.
const BACKENDS: ('cpu' | 'wasm' | 'tensorflow')[] = ['cpu', 'wasm'];

function randomArray(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
}

/** Runs `fn` on `backend` inside tidy and returns its outputs as plain arrays. */
async function on(backend: 'cpu' | 'wasm' | 'tensorflow', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initBackend(backend);
  return tf.tidy(() => fn().map((t) => t.dataSync() as Float32Array));
}

function expectClose(actual: Float32Array[], expected: Float32Array[], tolerance = 2e-5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((values, i) => {
    expect(values.length).toBe(expected[i].length);
    let worst = 0;
    let scale = 1e-6;
    values.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - expected[i][j]));
      scale = Math.max(scale, Math.abs(expected[i][j]));
    });
    expect(worst / scale, `output ${i}`).toBeLessThan(tolerance);
  });
}

/** Value and gradients w.r.t. every input of sum(f(inputs) ⊙ weights), a fixed random cotangent. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed = 99): tf.Tensor[] {
  const out = f(...inputs);
  const cotangent = tf.tensor(randomArray(out.shape, seed), out.shape);
  const grads = tf.grads((...xs: tf.Tensor[]) =>
    f(...xs)
      .mul(cotangent)
      .sum(),
  )(inputs);
  return [out, ...grads];
}

beforeAll(async () => {
  if ((await probeBackends()).some((b) => b.name === 'tensorflow' && b.available)) BACKENDS.push('tensorflow');
  await initBackend('wasm');
});

afterAll(async () => {
  await initBackend('cpu');
});

describe('fast ops agree with tf.matMul and the generic chain', () => {
  it.each([
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ])('matMul2d and batchedProduct, transposeA %s transposeB %s', async (transposeA, transposeB) => {
    // Big enough for wasm's depthwise-convolution route (small products keep tfjs's own loop).
    const a = randomArray([3, 40, 48], 1);
    const b = randomArray([3, 48, 36], 2);
    const shapeA = transposeA ? [3, 48, 40] : [3, 40, 48];
    const shapeB = transposeB ? [3, 36, 48] : [3, 48, 36];
    const generic = await on('cpu', () => [
      ...valueAndGrads(
        (x, y) => tf.matMul(x.slice([0, 0, 0], [1, -1, -1]).squeeze([0]) as tf.Tensor2D, y.slice([0, 0, 0], [1, -1, -1]).squeeze([0]) as tf.Tensor2D, transposeA, transposeB),
        [tf.tensor(a, shapeA), tf.tensor(b, shapeB)],
      ),
      tf.matMul(tf.tensor3d(a, shapeA as [number, number, number]), tf.tensor3d(b, shapeB as [number, number, number]), transposeA, transposeB),
    ]);
    for (const backend of BACKENDS) {
      const fast = await on(backend, () => [
        ...valueAndGrads(
          (x, y) => matMul2d(x.slice([0, 0, 0], [1, -1, -1]).squeeze([0]) as tf.Tensor2D, y.slice([0, 0, 0], [1, -1, -1]).squeeze([0]) as tf.Tensor2D, transposeA, transposeB),
          [tf.tensor(a, shapeA), tf.tensor(b, shapeB)],
        ),
        batchedProduct(tf.tensor3d(a, shapeA as [number, number, number]), tf.tensor3d(b, shapeB as [number, number, number]), transposeA, transposeB),
      ]);
      expectClose(fast, generic);
    }
  });

  it('batchMatMul and its gradients', async () => {
    const inputs = (): tf.Tensor[] => [tf.tensor(randomArray([4, 6, 5], 3), [4, 6, 5]), tf.tensor(randomArray([4, 5, 3], 4), [4, 5, 3])];
    const generic = await on('cpu', () => valueAndGrads((x, y) => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D), inputs()));
    for (const backend of BACKENDS) expectClose(await on(backend, () => valueAndGrads((x, y) => batchMatMul(x as tf.Tensor3D, y as tf.Tensor3D), inputs())), generic);
  });

  it.each(['out_in', 'in_out'] as const)('linearProduct (%s) with and without a kept transposed weight', async (layout) => {
    const x = randomArray([6, 5], 5);
    const w = randomArray([4, 5], 6);
    const bias = randomArray([4], 7);
    const weightShape = layout === 'out_in' ? [4, 5] : [5, 4];
    const weight = (): tf.Tensor2D => (layout === 'out_in' ? tf.tensor2d(w, [4, 5]) : tf.tensor2d(w, [4, 5]).transpose());
    const generic = await on('cpu', () =>
      valueAndGrads((input) => tf.matMul(input as tf.Tensor2D, weight(), false, layout === 'out_in').add(tf.tensor1d(bias)), [tf.tensor2d(x, [6, 5])]),
    );
    for (const backend of BACKENDS) {
      for (const isKept of [false, true]) {
        const fast = await on(backend, () => {
          const lw = { weight: weight(), layout, bias: tf.tensor1d(bias) };
          const kept = isKept ? (lw.weight.transpose() as tf.Tensor2D) : null;
          expect(lw.weight.shape).toEqual(weightShape);
          return valueAndGrads((input) => linearProduct(input as tf.Tensor2D, { ...lw, transposed: () => kept }), [tf.tensor2d(x, [6, 5])]);
        });
        expectClose(fast, generic);
      }
    }
  });

  it.each([
    ['multi-head with a causal mask', 2, 2, 2, true],
    ['grouped-query (2 query heads per KV head) with a padding mask', 2, 4, 2, true],
    ['one group, no mask', 1, 1, 1, false],
  ])('scaledDotProductAttention: %s', async (_label, batchSize, numHeads, numKvHeads, hasMask) => {
    const queryLen = 24;
    const keyLen = 32;
    const headDim = 32; // large enough for wasm's depthwise-convolution route
    const rows = (numHeads / numKvHeads) * queryLen;
    const q = randomArray([batchSize, numKvHeads, rows, headDim], 8);
    const k = randomArray([batchSize, numKvHeads, keyLen, headDim], 9);
    const v = randomArray([batchSize, numKvHeads, keyLen, headDim], 10);
    const maskValues = new Float32Array(batchSize * queryLen * keyLen).map((_, i) => (i % keyLen > 2 + (((i / keyLen) | 0) % queryLen) ? -1e9 : 0));
    const inputs = (): tf.Tensor[] => [
      tf.tensor(q, [batchSize, numKvHeads, rows, headDim]),
      tf.tensor(k, [batchSize, numKvHeads, keyLen, headDim]),
      tf.tensor(v, [batchSize, numKvHeads, keyLen, headDim]),
    ];
    const mask = (): tf.Tensor4D | null => (hasMask ? tf.tensor4d(maskValues, [batchSize, 1, queryLen, keyLen]) : null);
    const generic = await on('cpu', () =>
      valueAndGrads((qq, kk, vv) => {
        let scores = tf
          .matMul(qq as tf.Tensor4D, kk as tf.Tensor4D, false, true)
          .mul(0.5)
          .reshape([batchSize, numHeads, queryLen, keyLen]);
        const m = mask();
        if (m) scores = scores.add(m);
        const probs = tf.softmax(scores, -1).reshape([batchSize, numKvHeads, rows, keyLen]) as tf.Tensor4D;
        return tf.matMul(probs, vv as tf.Tensor4D);
      }, inputs()),
    );
    for (const backend of BACKENDS) {
      const fast = await on(backend, () =>
        valueAndGrads((qq, kk, vv) => {
          const m = mask();
          const grouped = m ? (tf.tile(m, [1, 1, numHeads / numKvHeads, 1]) as tf.Tensor4D) : null; // rows as the grouped queries
          return scaledDotProductAttention(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, grouped, 0.5);
        }, inputs()),
      );
      expectClose(fast, generic);
    }
  });

  it.each([8, 4])('applyRotary (rotaryDim %i of 8) and its gradient', async (rotaryDim) => {
    const x = randomArray([2, 3, 5, 8], 11);
    const rope = { theta: 10000, rotaryDim, scaling: null };
    const generic = await on('cpu', () =>
      valueAndGrads(
        (input) => {
          const tables = rotaryTables(rope, tf.tensor2d([[0, 1, 2, 3, 4]], undefined, 'int32'), 5);
          const half = rotaryDim / 2;
          const rotating = input.slice([0, 0, 0, 0], [2, 3, 5, rotaryDim]);
          const rotatedHalf = tf.concat([rotating.slice([0, 0, 0, half], [2, 3, 5, half]).neg(), rotating.slice([0, 0, 0, 0], [2, 3, 5, half])], 3);
          const sin = tables.sinSigned.slice([0, 0, 0, half], [1, 1, 5, half]);
          const rotated = rotating.mul(tables.cos).add(rotatedHalf.mul(tf.concat([sin, sin], 3)));
          return rotaryDim === 8 ? rotated : tf.concat([rotated, input.slice([0, 0, 0, rotaryDim], [2, 3, 5, 8 - rotaryDim])], 3);
        },
        [tf.tensor(x, [2, 3, 5, 8])],
      ),
    );
    for (const backend of BACKENDS) {
      const fast = await on(backend, () =>
        valueAndGrads((input) => applyRotary(input as tf.Tensor4D, rotaryTables(rope, tf.tensor2d([[0, 1, 2, 3, 4]], undefined, 'int32'), 5)), [tf.tensor(x, [2, 3, 5, 8])]),
      );
      expectClose(fast, generic, 1e-6);
    }
  });

  it('rmsNorm, layerNorm, gatedActivation and residualAdd', async () => {
    const x = randomArray([6, 8], 13);
    const y = randomArray([6, 8], 14);
    const w = randomArray([8], 15);
    const b = randomArray([8], 16);
    const inputs = (): tf.Tensor[] => [tf.tensor2d(x, [6, 8]), tf.tensor2d(y, [6, 8])];
    const generic = await on('cpu', () => [
      ...valueAndGrads((a) => a.mul(a.square().mean(-1, true).add(1e-5).rsqrt()).mul(tf.tensor1d(w)), inputs().slice(0, 1)),
      ...valueAndGrads(
        (a) => {
          const { mean, variance } = tf.moments(a, -1, true);
          return a.sub(mean).mul(variance.add(1e-5).rsqrt()).mul(tf.tensor1d(w)).add(tf.tensor1d(b));
        },
        inputs().slice(0, 1),
      ),
      ...valueAndGrads((g, u) => g.mul(tf.sigmoid(g)).mul(u), inputs()),
      ...valueAndGrads((a, c) => a.add(c).mul(a), inputs()),
    ]);
    for (const backend of BACKENDS) {
      const fast = await on(backend, () => [
        ...valueAndGrads((a) => rmsNorm(a, tf.tensor1d(w), 1e-5), inputs().slice(0, 1)),
        ...valueAndGrads((a) => layerNorm(a, tf.tensor1d(w), tf.tensor1d(b), 1e-5), inputs().slice(0, 1)),
        ...valueAndGrads((g, u) => gatedActivation(g, u, 'silu'), inputs()),
        ...valueAndGrads((a, c) => residualAdd(a, c).mul(a), inputs()),
      ]);
      expectClose(fast, generic, 1e-5);
    }
  });

  it('gelu and gelu_new: hand-written gradients equal the generic chains', async () => {
    const x = randomArray([6, 8], 17).map((v) => 3 * v); // spread over the curved part of both GELUs
    const input = (): tf.Tensor[] => [tf.tensor2d(x, [6, 8])];
    const generic = await on('cpu', () => [
      ...valueAndGrads((a) => a.mul(tf.erf(a.mul(Math.SQRT1_2)).add(1)).mul(0.5), input()),
      ...valueAndGrads((a) => a.mul(tf.tanh(a.add(a.mul(a).mul(a).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1)).mul(0.5), input()),
    ]);
    for (const backend of BACKENDS) {
      const fast = await on(backend, () => [...valueAndGrads((a) => activate(a, 'gelu'), input()), ...valueAndGrads((a) => activate(a, 'gelu_new'), input())]);
      expectClose(fast, generic, 1e-5);
    }
  });

  it.each(['gelu', 'gelu_new'] as const)("gatedActivation %s (GeGLU) gives the two-op chain's values and gradients exactly, holding one [N, F] less", async (activation) => {
    const inputs = (): tf.Tensor[] => [
      tf.tensor2d(
        randomArray([64, 32], 23).map((v) => 3 * v),
        [64, 32],
      ),
      tf.tensor2d(randomArray([64, 32], 24), [64, 32]),
    ];
    for (const backend of BACKENDS) {
      const chain = await on(backend, () => valueAndGrads((g, u) => activate(g, activation).mul(u), inputs()));
      const fused = await on(backend, () => valueAndGrads((g, u) => gatedActivation(g, u, activation), inputs()));
      expect(fused.map((a) => Array.from(a))).toEqual(chain.map((a) => Array.from(a)));
      // Peak live bytes over forward and backward of eight stacked products, as in a model: the chain's tape also
      // keeps each gelu(gate) [N, F] until the backward pass ends.
      const peak = async (f: (g: tf.Tensor, u: tf.Tensor) => tf.Tensor) => {
        const stack = (g: tf.Tensor, u: tf.Tensor) =>
          Array.from({ length: 8 })
            .reduce<tf.Tensor>((h) => f(h, u), g)
            .sum();
        return (await tf.profile(() => tf.tidy(() => void tf.grads(stack)(inputs())))).peakBytes;
      };
      const saved = (await peak((g, u) => activate(g, activation).mul(u))) - (await peak((g, u) => gatedActivation(g, u, activation)));
      expect(saved, backend).toBeGreaterThanOrEqual(4 * 64 * 32 * 4);
    }
  });

  it("dropoutKeepingMask and scaleBy give tf.dropout's and tf.mul's values and gradients exactly, holding less", async () => {
    const inputs = (): tf.Tensor[] => [tf.tensor2d(randomArray([64, 32], 25), [64, 32])];
    // LoRA's branch on a frozen product: y + s·drop(x)·W, stacked as layers are.
    const w = randomArray([32, 32], 26);
    const branch = (drop: (x: tf.Tensor, seed: number) => tf.Tensor, scale: (x: tf.Tensor) => tf.Tensor, add: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (x: tf.Tensor) =>
      Array.from({ length: 6 }).reduce<tf.Tensor>((h, _, i) => add(h, scale(tf.matMul(drop(h, 40 + i), tf.tensor2d(w, [32, 32])))), x);
    const generic = branch(
      (x, seed) => tf.dropout(x, 0.25, undefined, seed),
      (x) => x.mul(0.5),
      (a, b) => a.add(b),
    );
    const lean = branch(
      (x, seed) => dropoutKeepingMask(x, 0.25, seed),
      (x) => scaleBy(x, 0.5),
      (a, b) => residualAdd(a, b),
    );
    for (const backend of BACKENDS) {
      const expected = await on(backend, () => valueAndGrads(generic, inputs()));
      const actual = await on(backend, () => valueAndGrads(lean, inputs()));
      expect(actual.map((a) => Array.from(a))).toEqual(expected.map((a) => Array.from(a)));
      const [dropped] = await on(backend, () => [dropoutKeepingMask(inputs()[0], 0.25, 40)]);
      expect(dropped.filter((v) => v === 0).length).toBeGreaterThan(64 * 32 * 0.15); // about a quarter dropped
      expect(dropped.filter((v) => v === 0).length).toBeLessThan(64 * 32 * 0.35);
      const peak = async (f: (x: tf.Tensor) => tf.Tensor) => (await tf.profile(() => tf.tidy(() => void tf.grads((x: tf.Tensor) => f(x).sum())(inputs())))).peakBytes;
      // Per layer the generic tape also keeps the draw, the mask and y at least: 3 [N, D] each.
      expect((await peak(generic)) - (await peak(lean)), backend).toBeGreaterThanOrEqual(6 * 3 * 64 * 32 * 4);
    }
  });

  it('embeddingLookup of a trainable table sums the gradient of repeated ids (wasm has no unsortedSegmentSum)', async () => {
    const table = randomArray([10, 6], 21);
    const ids = [
      [3, 1, 3, 9],
      [0, 3, 1, 7],
    ]; // 3 three times, 1 twice; 2, 4, 5, 6, 8 never
    const cotangent = randomArray([2, 4, 6], 22);
    const run = (lookup: (t: tf.Tensor2D, i: tf.Tensor2D) => tf.Tensor) => (): tf.Tensor[] => {
      const variable = tf.variable(tf.tensor2d(table, [10, 6]), true);
      const idTensor = tf.tensor2d(ids, [2, 4], 'int32');
      const { value, grads } = tf.variableGrads(
        () =>
          lookup(variable, idTensor)
            .mul(tf.tensor3d(cotangent, [2, 4, 6]))
            .sum() as tf.Scalar,
        [variable],
      );
      const out = [lookup(variable, idTensor), value, grads[variable.name]!];
      variable.dispose();
      return out;
    };
    const generic = await on(
      'cpu',
      run((t, i) => tf.gather(t, i)),
    );
    for (const backend of BACKENDS) expectClose(await on(backend, run(embeddingLookup)), generic);
    // Row 3's gradient is the sum of three cotangent rows; row 2's is zero.
    expect(generic[2]!.slice(12, 18).every((v) => v === 0)).toBe(true);
  });

  it('selectRows and the fused cross-entropy', async () => {
    const logits = randomArray([2, 4, 6], 12);
    const batch = collate(
      [
        { ids: [1, 2, 3, 4], targetStart: 2 },
        { ids: [5, 0, 1], targetStart: 1 },
      ],
      0,
    ); // [2, 4], 4 targets
    const rows = Int32Array.from([6, 1, 3]);
    const generic = await on('cpu', () => [
      ...valueAndGrads((z) => tf.gather(z.reshape([8, 6]), tf.tensor1d(rows, 'int32')), [tf.tensor(logits, [2, 4, 6])]),
      ...valueAndGrads(
        (z) => {
          // The previous formulation: one-hot selection and tf.logSumExp.
          const flat = z.reshape([8, 6]) as tf.Tensor2D;
          const select = tf.oneHot(tf.tensor1d([1, 2, 4, 5], 'int32'), 8) as tf.Tensor2D;
          const picked = tf.matMul(select, flat);
          const labelMask = tf.oneHot(tf.tensor1d([3, 4, 0, 1], 'int32'), 6);
          return tf.logSumExp(picked, 1).sub(picked.mul(labelMask).sum(1));
        },
        [tf.tensor(logits, [2, 4, 6])],
      ),
    ]);
    for (const backend of BACKENDS) {
      const fast = await on(backend, () => [
        ...valueAndGrads((z) => selectRows(z.reshape([8, 6]) as tf.Tensor2D, rows), [tf.tensor(logits, [2, 4, 6])]),
        ...valueAndGrads((z) => targetNll(z as tf.Tensor3D, batch), [tf.tensor(logits, [2, 4, 6])]),
      ]);
      expectClose(fast, generic, 1e-6);
    }
  });
});

describe.each(['llama', 'mistral', 'gpt2', 'gpt_neox'] as TinyArchitecture[])('%s: a training gradient on wasm (and native) equals cpu', (architecture) => {
  it.each(['lora', 'ptplus', 'prefix'])('%s', async (method) => {
    const ids = [
      [3, 17, 5, 22, 9, 31, 1, 12],
      [8, 27, 4, 2, 0, 0, 0, 0],
    ];
    const mask = [
      [1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0, 0, 0],
    ];
    const run = async (backend: 'cpu' | 'wasm' | 'tensorflow'): Promise<Float32Array[]> => {
      await initBackend(backend);
      const before = tf.memory().numTensors;
      const model = createTinyModel(architecture, { seed: 3 });
      const options = parseMethodOptions(method, method === 'lora' ? { dropout: 0, targets: 'all-linear' } : {});
      const adapter = getMethod(method).attach(model, options as never, { seed: 2 });
      // Non-zero LoRA B / PT+ memory so every path carries gradient.
      tf.tidy(() => adapter.trainableVariables().forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 50 + i))));
      const result = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.forward(tf.tensor2d(ids, undefined, 'int32'), { attentionMask: tf.tensor2d(mask, undefined, 'int32'), hooks: adapter.hooks });
          return logits.square().mean() as tf.Scalar;
        }, adapter.trainableVariables());
        return [value, ...adapter.trainableVariables().map((v) => grads[v.name])].map((t) => t.dataSync() as Float32Array);
      });
      adapter.dispose();
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
      return result;
    };
    const cpu = await run('cpu');
    for (const backend of BACKENDS.filter((b) => b !== 'cpu')) expectClose(await run(backend), cpu, 1e-4);
  });
});
