// The fused head loss (one op over vocabulary chunks, online softmax) against the plain chain it replaces in
// training (the head's logits, then rowNll): the same losses and input gradients to float32 rounding, with and
// without a bias, in one chunk and in several (uneven last one), with labels in every chunk; a quantized head
// gives the float32 head's values bit for bit; nothing of size [N, V] is held; and the model's forward falls back
// to the logits where the head is trainable, hooked or soft-capped. On cpu, wasm and native where they load.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { canFuseHead, fusedHeadNll, rowNll } from './head-loss';
import { linearProduct } from './ops';
import type { ModelHooks } from './hooks';
import { plainMatrix } from './plain-matrix';
import { createTinyModel } from './tiny-model';

/** Loss values, dx and the weighted loss's value for f(x), under upstream factors dy [N]. */
function lossAndGrad(f: (x: tf.Tensor2D) => tf.Tensor1D, x: tf.Tensor2D, dy: tf.Tensor1D): { nll: number[]; dx: number[] } {
  return tf.tidy(() => {
    const { grads } = tf.valueAndGrads((input: tf.Tensor) =>
      f(input as tf.Tensor2D)
        .mul(dy)
        .sum(),
    )([x]);
    return { nll: Array.from(f(x).dataSync()), dx: Array.from(grads[0].dataSync()) };
  });
}

function maxRelative(a: number[], b: number[]): number {
  const scale = Math.max(...b.map(Math.abs));
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / scale;
}

const backends = ['cpu', ...(await probeBackends()).filter((b) => b.available && (b.name === 'wasm' || b.name === 'tensorflow')).map((b) => b.name)];

describe.each(backends)('fused head loss on %s', (backend) => {
  const [vocab, hidden, rows] = [1000, 48, 9];
  // Labels in the first, a middle and the uneven last chunk (128-row chunks: 7 full, then 104 rows).
  const labels = Int32Array.from([0, 5, 127, 128, 500, 895, 896, 999, 640]);

  it('equals the logits + rowNll chain (values and dx, with and without bias, one chunk and eight)', async () => {
    await initBackend(backend as never);
    const values = tf.tidy(() => tf.randomNormal([vocab, hidden], 0, 0.3, 'float32', 1).dataSync() as Float32Array);
    const weight = tf.tensor2d(values, [vocab, hidden]);
    const bias = tf.randomNormal([vocab], 0, 0.5, 'float32', 2) as tf.Tensor1D;
    const x = tf.randomNormal([rows, hidden], 0, 1, 'float32', 3) as tf.Tensor2D;
    const dy = tf.randomUniform([rows], 0.5, 2, 'float32', 4) as tf.Tensor1D;
    try {
      for (const withBias of [false, true]) {
        const head = { weight, layout: 'out_in' as const, bias: withBias ? bias : undefined };
        const plain = lossAndGrad((input) => rowNll(linearProduct(input, head), labels), x, dy);
        for (const chunk of [vocab, 128]) {
          const fused = lossAndGrad((input) => fusedHeadNll(input, head, labels, chunk), x, dy);
          expect(maxRelative(fused.nll, plain.nll), `nll, bias ${withBias}, chunk ${chunk}`).toBeLessThan(1e-5);
          expect(maxRelative(fused.dx, plain.dx), `dx, bias ${withBias}, chunk ${chunk}`).toBeLessThan(1e-4);
        }
      }
    } finally {
      tf.dispose([weight, bias, x, dy]);
    }
  });

  it('a quantized head gives the float32 head bit for bit, and no [N, V] tensor is held', async () => {
    await initBackend(backend as never);
    const values = tf.tidy(() => tf.randomNormal([vocab, hidden], 0, 0.3, 'float32', 5).dataSync() as Float32Array);
    const weight = tf.tensor2d(values, [vocab, hidden]);
    const x = tf.randomNormal([rows, hidden], 0, 1, 'float32', 6) as tf.Tensor2D;
    const dy = tf.randomUniform([rows], 0.5, 2, 'float32', 7) as tf.Tensor1D;
    try {
      const float = lossAndGrad((input) => fusedHeadNll(input, { weight, layout: 'out_in' }, labels, 128), x, dy);
      const quantized = lossAndGrad((input) => fusedHeadNll(input, { quantized: plainMatrix(values, [vocab, hidden]), layout: 'out_in' }, labels, 128), x, dy);
      expect(quantized).toEqual(float);

      const before = tf.memory().numTensors;
      // Peak over forward and backward beyond what was alive before, at a shape where [N, V] dwarfs a chunk's
      // tensors ([64, 1000] logits against [64, 128] pieces): the plain chain holds at least two [N, V] tensors.
      const [n, width] = [64, 8];
      const head = tf.randomNormal([vocab, width], 0, 0.3, 'float32', 8) as tf.Tensor2D;
      const input = tf.randomNormal([n, width], 0, 1, 'float32', 9) as tf.Tensor2D;
      const manyLabels = Int32Array.from({ length: n }, (_, i) => (i * 37) % vocab);
      const alive = tf.memory().numBytes;
      const peak = async (f: (h: tf.Tensor2D) => tf.Tensor1D) =>
        (
          await tf.profile(() =>
            tf.tidy(() => {
              tf.grad((h: tf.Tensor) => f(h as tf.Tensor2D).sum())(input);
            }),
          )
        ).peakBytes - alive;
      const fusedPeak = await peak((h) => fusedHeadNll(h, { weight: head, layout: 'out_in' }, manyLabels, 128));
      const plainPeak = await peak((h) => rowNll(linearProduct(h, { weight: head, layout: 'out_in' }), manyLabels));
      tf.dispose([head, input]);
      const logitsBytes = n * vocab * 4;
      expect(fusedPeak, `fused ${fusedPeak} B, plain ${plainPeak} B`).toBeLessThan(logitsBytes / 2);
      expect(plainPeak).toBeGreaterThan(2 * logitsBytes);
      expect(tf.memory().numTensors).toBe(before); // nothing leaked by either
    } finally {
      tf.dispose([weight, x, dy]);
    }
  });

  it('takes frozen [V, D] heads only', async () => {
    await initBackend(backend as never);
    const weight = tf.zeros([10, 4]) as tf.Tensor2D;
    const variable = tf.variable(weight, true);
    try {
      expect(canFuseHead({ weight, layout: 'out_in' })).toBe(true);
      expect(canFuseHead({ weight, layout: 'in_out' })).toBe(false);
      expect(canFuseHead({ weight: variable, layout: 'out_in' })).toBe(false);
      expect(() => fusedHeadNll(tf.zeros([1, 4]) as tf.Tensor2D, { weight, layout: 'out_in' }, Int32Array.from([10]))).toThrow(/label 10 is outside the head's 10 rows/);
    } finally {
      tf.dispose([weight, variable]);
    }
  });
});

describe("forward's targetLabels (the training loss)", () => {
  // Two rows of 8 tokens, scoring positions 3..7 of each (flat indices over the real tokens).
  const ids = [
    [1, 5, 9, 2, 7, 3, 8, 4],
    [6, 2, 2, 9, 1, 0, 5, 3],
  ];
  const positions = Int32Array.from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
  const labels = Int32Array.from(positions, (p) => ids[Math.floor(p / 8)][(p % 8) + 1] ?? 0);

  /** forward's own losses, and rowNll over forward's logits of the same rows. */
  function both(model: ReturnType<typeof createTinyModel>, hooks?: ModelHooks): { fused: number[]; plain: number[] } {
    return tf.tidy(() => {
      const input = tf.tensor2d(ids, undefined, 'int32');
      const fused = model.forward(input, { hooks, logitRows: positions, targetLabels: labels }); // [1, N, 1]
      const logits = model.forward(input, { hooks, logitRows: positions }); // [1, N, V]
      const plain = rowNll(logits.reshape([positions.length, -1]) as tf.Tensor2D, labels);
      return { fused: Array.from(fused.dataSync()), plain: Array.from(plain.dataSync()) };
    });
  }

  it('is the row loss of the logits: fused for a frozen head, the same chain for a hooked, trainable or soft-capped one', async () => {
    await initBackend('cpu');
    const frozen = createTinyModel('llama', { seed: 21 });
    const capped = createTinyModel('gemma3_text', { seed: 22, overrides: { final_logit_softcapping: 3 } });
    try {
      const fused = both(frozen);
      expect(maxRelative(fused.fused, fused.plain)).toBeLessThan(1e-5);
      // A hook on the head (one without wrapsLinear is taken to wrap everything) and a soft cap: exactly the chain.
      const hooked = both(frozen, { wrapLinear: (name, x, base) => (name === 'lm_head' ? base(x).mul(2) : base(x)) });
      expect(hooked.fused).toEqual(hooked.plain);
      expect(hooked.fused).not.toEqual(fused.fused);
      const softcapped = both(capped);
      expect(softcapped.fused).toEqual(softcapped.plain);
      expect(Math.max(...softcapped.plain)).toBeLessThan(2 * 3 + Math.log(40)); // the cap bounds the logits
      frozen.makeTrainable(['lm_head.weight']);
      const trainable = both(frozen);
      expect(trainable.fused).toEqual(trainable.plain);
    } finally {
      frozen.dispose();
      capped.dispose();
    }
  });

  it('a frozen head with a large vocabulary holds no [N, V] tensor over forward and backward', async () => {
    await initBackend('cpu');
    const vocab = 40_000; // three chunks of ROW_CHUNK rows
    const model = createTinyModel('llama', { seed: 23, overrides: { vocab_size: vocab } });
    try {
      const input = tf.tensor2d(ids, undefined, 'int32');
      const embed = model.makeTrainable(['model.embed_tokens.weight'])[0]; // something upstream to differentiate
      const alive = tf.memory().numBytes;
      const peak = async (opts: { targetLabels?: Int32Array }) =>
        (
          await tf.profile(() =>
            tf.tidy(() => {
              tf.variableGrads(() => {
                const out = model.forward(input, { logitRows: positions, ...opts });
                return (opts.targetLabels ? out.sum() : rowNll(out.reshape([positions.length, vocab]) as tf.Tensor2D, labels).sum()) as tf.Scalar;
              }, [embed]);
            }),
          )
        ).peakBytes - alive;
      const logitsBytes = positions.length * vocab * 4;
      const fusedPeak = await peak({ targetLabels: labels });
      const plainPeak = await peak({});
      input.dispose();
      // Both hold the embedding's gradient ([V, D], 16 floats a row); beyond it the plain chain's logits dominate.
      const embedGradBytes = vocab * 16 * 4;
      expect(fusedPeak - embedGradBytes, `fused ${fusedPeak} B, plain ${plainPeak} B`).toBeLessThan(logitsBytes);
      expect(plainPeak - embedGradBytes).toBeGreaterThan(2 * logitsBytes);
    } finally {
      model.dispose();
    }
  });
});
