// Proves the locally built native backend through the app's own backend.ts: the same matMul, conv2d and
// gradients on 'tensorflow' and 'cpu' must agree, then times a 1024×1024 matMul on tensorflow, wasm and cpu.
// Run after scripts/native-tf/setup.sh:   npx tsx scripts/native-tf/verify.mjs [--json out.json]
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { initBackend, probeBackends } from '../../src/main/engine/backend.ts';

process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';

/** Deterministic inputs, identical on every backend (mulberry32). */
function random(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

/** Every case returns named Float32Arrays computed on the active backend. */
const cases = {
  matMul() {
    const a = tf.tensor2d(random(64 * 48, 1), [64, 48]);
    const b = tf.tensor2d(random(48 * 32, 2), [48, 32]);
    return { product: a.matMul(b), productTransposed: tf.matMul(a, a, false, true) };
  },
  conv2d() {
    const x = tf.tensor4d(random(2 * 16 * 16 * 3, 3), [2, 16, 16, 3]);
    const w = tf.tensor4d(random(3 * 3 * 3 * 8, 4), [3, 3, 3, 8]);
    return { same: tf.relu(tf.conv2d(x, w, 1, 'same')), strided: tf.conv2d(x, w, 2, 'valid') };
  },
  gradients() {
    const x = tf.tensor4d(random(2 * 16 * 16 * 3, 3), [2, 16, 16, 3]);
    const w = tf.tensor4d(random(3 * 3 * 3 * 8, 4), [3, 3, 3, 8]);
    const loss = (xx, ww) =>
      tf
        .relu(tf.conv2d(xx, ww, 1, 'same'))
        .square()
        .mean();
    const [dx, dw] = tf.grads(loss)([x, w]);
    // A language-model-shaped step: embedding gather → dense → softmax cross-entropy, gradient wrt weights.
    const emb = tf.tensor2d(random(50 * 16, 5), [50, 16]);
    const dense = tf.tensor2d(random(16 * 50, 6), [16, 50]);
    const ids = tf.tensor1d([3, 17, 42, 8, 8, 1], 'int32');
    const labels = tf.oneHot(tf.tensor1d([17, 42, 8, 8, 1, 0], 'int32'), 50);
    const lm = (e, d) => tf.losses.softmaxCrossEntropy(labels, tf.gather(e, ids).matMul(d));
    const [dEmb, dDense] = tf.grads(lm)([emb, dense]);
    return { dx, dw, dEmb, dDense, lmLoss: lm(emb, dense) };
  },
};

async function compute(backend) {
  if ((await initBackend(backend)) !== backend) throw new Error(`could not activate ${backend}`);
  const out = {};
  for (const [name, fn] of Object.entries(cases)) {
    const tensors = tf.tidy(fn);
    for (const [k, t] of Object.entries(tensors)) out[`${name}.${k}`] = await t.data();
    tf.dispose(Object.values(tensors));
  }
  return out;
}

async function timeMatMul(backend, n, iterations) {
  await initBackend(backend);
  const a = tf.tensor2d(random(n * n, 7), [n, n]);
  const b = tf.tensor2d(random(n * n, 8), [n, n]);
  const once = async () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    return performance.now() - t0;
  };
  await once(); // warm-up (kernel compilation, thread pools, first allocation)
  const times = [];
  for (let i = 0; i < iterations; i++) times.push(await once());
  tf.dispose([a, b]);
  times.sort((x, y) => x - y);
  const median = times[Math.floor(times.length / 2)];
  return { backend, n, iterations, medianMs: +median.toFixed(2), minMs: +times[0].toFixed(2), gflops: +((2 * n ** 3) / median / 1e6).toFixed(1) };
}

const statuses = await probeBackends();
for (const s of statuses) console.log(`${s.name.padEnd(15)} ${s.available ? 'available' : `unavailable: ${s.reason}`}`);
if (!statuses.find((s) => s.name === 'tensorflow')?.available) {
  console.error('the native backend is not available; run scripts/native-tf/setup.sh first');
  process.exit(1);
}
await initBackend('tensorflow');
console.log(`native: TensorFlow ${tf.backend().binding.TF_Version}, tfjs ${tf.version.tfjs}; ${cpus().length} CPU(s): ${cpus()[0]?.model}`);

const native = await compute('tensorflow');
const reference = await compute('cpu');
const agreement = {};
let worst = 0;
for (const [key, ref] of Object.entries(reference)) {
  const got = native[key];
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  const rel = maxAbs / Math.max(scale, 1e-12);
  worst = Math.max(worst, rel);
  agreement[key] = { size: ref.length, maxAbsDiff: maxAbs, maxRelDiff: rel };
  console.log(`${key.padEnd(26)} n=${String(ref.length).padStart(5)}  max|Δ|=${maxAbs.toExponential(2)}  rel=${rel.toExponential(2)}`);
}
const tolerance = 1e-4;
console.log(worst <= tolerance ? `tensorflow == cpu within ${tolerance} (relative)` : `MISMATCH: worst relative difference ${worst}`);

const timings = [];
for (const [backend, iterations] of [
  ['tensorflow', 20],
  ['wasm', 10],
  ['cpu', 3],
]) {
  const r = await timeMatMul(backend, 1024, iterations);
  timings.push(r);
  console.log(`matMul 1024×1024 on ${backend.padEnd(10)} median ${String(r.medianMs).padStart(8)} ms  (min ${r.minMs} ms, ${r.gflops} GFLOP/s, ${iterations} runs)`);
}

const json = process.argv.indexOf('--json');
if (json > 0) writeFileSync(process.argv[json + 1], JSON.stringify({ tf: tf.backend().binding?.TF_Version, cpus: cpus().length, agreement, timings }, null, 2));
process.exit(worst <= tolerance ? 0 : 1);
