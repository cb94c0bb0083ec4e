// Dropout's multiplier, keep-or-drop per element scaled by 1/keep, with the exact values of tfjs's
// tf.dropout(x, rate, undefined, seed): randomUniform(shape, 0, 1, 'float32', seed).add(keep).floor().div(keep).
//
// Why by hand: tfjs draws every uniform in JavaScript (seedrandom's Alea behind closures and a TensorBuffer),
// ~20 ns a value, on the main thread and outside the backend's thread pool. LoRA drops the input of every adapted
// module, [N, in] per module: on SmolLM2 at T = 256 that is 60 draws of 1.2 M values a step, over a second of
// serial JavaScript that no thread count shortens. The same Alea stream run in one tight loop, with the add,
// floor and divide done there in float32 (Math.fround: double then rounded equals float32 arithmetic for +
// and /), gives the same bits in about half the time and three fewer kernels per module.
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';

/** 2⁻³², Alea's scale from its 32-bit carry to [0, 1). */
const TWO_POW_MINUS_32 = 2.3283064365386963e-10;

/** The multiplier tf.dropout(x, rate, undefined, seed) applies to x of this shape (1/keep or 0 per element). */
export function dropoutMultiplier(shape: number[], rate: number, seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  const keep = Math.fround(1 - rate); // tfjs uploads the scalar as float32
  // tfjs seeds Alea with the seed's string form (rand_util.ts UniformRandom); its state after seeding is the
  // library's, its step (below) is Alea's recurrence, as seedrandom's alea.js `next` computes it.
  let { c, s0, s1, s2 } = seedrandom.alea(String(seed), { state: true }).state() as unknown as AleaState;
  for (let i = 0; i < size; i++) {
    const t = 2091639 * s0 + c * TWO_POW_MINUS_32;
    s0 = s1;
    s1 = s2;
    c = t | 0;
    s2 = t - c;
    // The uniform is stored as float32, then add(keep) in float32, floor, div(keep).
    values[i] = Math.fround(Math.floor(Math.fround(Math.fround(s2) + keep)) / keep);
  }
  return tf.tensor(values, shape, 'float32');
}

/** seedrandom's Alea state (its typings call it an opaque object). */
interface AleaState {
  c: number;
  s0: number;
  s1: number;
  s2: number;
}
