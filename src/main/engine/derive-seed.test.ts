// Independent seeds: every random stream of a run comes from deriveSeed(run seed, purpose), so no two
// streams of seeds 1–5 coincide — neither the seeds themselves nor the initialised tensors, even up to a
// shift in the stream (a row shift) and the affine rescaling different initialisers apply to one stream.
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend';
import { deriveSeed, dropoutSeed, initSeed, SEED_PURPOSES } from '../platform/derive-seed';
import type { CausalLM } from './models/causal-lm';
import { getMethod } from './methods/registry';
import { tinyModel, type TinyFamily } from './methods/test-utils';

const SEEDS = [1, 2, 3, 4, 5];

/** Options under which every method draws random tensors (PT+'s memory is random only with memoryInitStd > 0). */
const RANDOM_SETUPS: { method: string; options: Record<string, unknown> }[] = [
  { method: 'lora', options: { targets: 'all-linear' } },
  { method: 'prefix', options: { projection: true } },
  { method: 'prefix', options: { projection: false } },
  { method: 'ptplus', options: { featureMap: 'mlp', memoryInitStd: 0.02 } },
  { method: 'prompt', options: { init: 'random' } },
];

interface Drawn {
  label: string;
  /** method, seed and tensor name: one stream (the two prefix setups share the embedding's, as they should). */
  stream: string;
  data: Float32Array;
}

/** Every randomly initialised tensor of `setup` on `model` for `seed` (constant tensors — zeros, ones — left out). */
function drawTensors(model: CausalLM, setup: (typeof RANDOM_SETUPS)[number], seed: number, family: string): Drawn[] {
  const method = getMethod(setup.method);
  const adapter = method.attach(model, method.options.parse(setup.options) as never, { seed });
  try {
    return Object.entries(adapter.stateDict())
      .filter(([, t]) => t.data.some((v) => v !== t.data[0]))
      .map(([name, t]) => ({ label: `${family} ${setup.method}${JSON.stringify(setup.options)} seed ${seed} ${name}`, stream: `${setup.method} ${seed} ${name}`, data: t.data }));
  } finally {
    adapter.dispose();
  }
}

/**
 * Whether `y` contains, from some offset, an affine image a + b·x of the first values of `x`: what one random
 * stream looks like when two tensors read it (tfjs keys its generator on the seed; uniform and normal
 * initialisers rescale and shift it; a different start is a row shift).
 */
function containsStreamOf(x: Float32Array, y: Float32Array): boolean {
  const k = Math.min(8, x.length);
  if (k < 4) return false;
  const probe = x.subarray(0, k);
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < k; i++) {
    if (probe[i] < probe[lo]) lo = i;
    if (probe[i] > probe[hi]) hi = i;
  }
  const span = probe[hi] - probe[lo];
  if (span === 0) return false;
  for (let j = 0; j + k <= y.length; j++) {
    const b = (y[j + hi] - y[j + lo]) / span;
    if (b === 0) continue;
    const a = y[j + lo] - b * probe[lo];
    const tolerance = 1e-4 * Math.abs(b * span);
    let same = true;
    for (let i = 0; i < k && same; i++) same = Math.abs(a + b * probe[i] - y[j + i]) <= tolerance;
    if (same) return true;
  }
  return false;
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('deriveSeed', () => {
  it('is a pure function of (seed, purpose): a 48-bit integer, the same every call', () => {
    const seed = deriveSeed(3, 'lora/init/x');
    expect(deriveSeed(3, 'lora/init/x')).toBe(seed);
    expect(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 48).toBe(true);
    expect(deriveSeed(3, 'lora/init/y')).not.toBe(seed);
    expect(deriveSeed(4, 'lora/init/x')).not.toBe(seed);
    expect(deriveSeed(-1, 'x')).not.toBe(deriveSeed(1, 'x'));
    expect(deriveSeed(2 ** 40, 'x')).not.toBe(deriveSeed(0, 'x'));
    expect(() => deriveSeed(1.5, 'x')).toThrow(/safe integer/);
    expect(() => deriveSeed(1, '')).toThrow(/purpose/);
  });
});

describe.each(['llama', 'gpt2', 'gpt_neox'] as TinyFamily[])('independent streams on a tiny %s', (family) => {
  let model: CausalLM;
  beforeAll(() => {
    model = tinyModel(family, 1);
  });
  afterAll(() => model.dispose());

  it('no two seeds over seeds 1–5 × every purpose collide', () => {
    const purposes = new Set<string>(Object.values(SEED_PURPOSES));
    for (const setup of [...RANDOM_SETUPS, { method: 'prompt', options: { init: 'sample-vocab' } }]) {
      const method = getMethod(setup.method);
      const adapter = method.attach(model, method.options.parse(setup.options) as never, { seed: 1 });
      for (const name of Object.keys(adapter.stateDict())) purposes.add(`${setup.method}/init/${name}`);
      adapter.dispose();
    }
    purposes.add('prompt/init/sample-vocab ids');
    for (let call = 1; call <= 2000; call++) purposes.add(`lora/dropout/${call}`);
    const seen = new Map<number, string>();
    for (const seed of SEEDS) {
      for (const purpose of purposes) {
        const derived = purpose.startsWith('lora/dropout/') ? dropoutSeed(seed, Number(purpose.split('/')[2])) : deriveSeed(seed, purpose);
        const key = `seed ${seed} ${purpose}`;
        expect(seen.get(derived), `${key} collides`).toBeUndefined();
        seen.set(derived, key);
      }
    }
    // The init purposes are the ones the initialisers use.
    expect(initSeed(2, 'lora', 'a.lora_A.weight')).toBe(deriveSeed(2, 'lora/init/a.lora_A.weight'));
    expect(seen.size).toBe(SEEDS.length * purposes.size);
  });

  it('no two initialised tensors of seeds 1–5 (LoRA, prefix, PT+, prompt) are equal, or equal up to a row shift or rescaling', () => {
    const drawn = SEEDS.flatMap((seed) => RANDOM_SETUPS.flatMap((setup) => drawTensors(model, setup, seed, family)));
    // Every setup draws at least one random tensor per seed, and PT+'s memory is among them.
    expect(drawn.filter((d) => d.label.includes('ptplus_memory')).length).toBeGreaterThan(0);
    expect(drawn.length).toBeGreaterThanOrEqual(SEEDS.length * RANDOM_SETUPS.length);
    const clashes: string[] = [];
    for (const x of drawn) {
      for (const y of drawn) {
        if (x.stream !== y.stream && containsStreamOf(x.data, y.data)) clashes.push(`${x.label} ⊂ ${y.label}`);
      }
    }
    expect(clashes).toEqual([]);
  });
});

describe('containsStreamOf (the detector above)', () => {
  it('finds one stream read at another offset and scale, and nothing in an unrelated one', () => {
    const stream = tf.tidy(() => tf.randomUniform([64], 0, 1, 'float32', 123).dataSync() as Float32Array);
    const scaled = Float32Array.from(stream.subarray(16), (u) => -0.25 + 0.5 * u); // rows 2… of a U(±0.25) tensor
    const other = tf.tidy(() => tf.randomUniform([64], 0, 1, 'float32', 124).dataSync() as Float32Array);
    expect(containsStreamOf(scaled, stream)).toBe(true);
    expect(containsStreamOf(stream, other)).toBe(false);
  });
});
