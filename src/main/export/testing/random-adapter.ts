// Test helper (vitest and python/tests/make_exports.ts): a registry adapter with seeded random tensors for any
// method on any model, without training — attach, overwrite every tensor via loadStateDict, save.
import { resolve } from 'node:path';
import type { MethodName, StateDict } from '../../engine/methods/method';
import { getMethod, parseMethodOptions } from '../../engine/methods/registry';
import { loadModel } from '../../engine/io/load-model';
import { hashModelFiles, saveAdapter, type AdapterManifest } from '../../registry/adapter-store';
import { Rng } from '../../platform/rng';

/** The one seeded generator (platform/rng.ts) + Box–Muller: the same values on every platform. */
export function seededNormal(seed: number): () => number {
  const rng = Rng.fromSeed(seed);
  const uniform = (): number => rng.next();
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Std per tensor: embeddings-sized values for prompts, small updates elsewhere so logits stay moderate. */
function stdFor(name: string, method: MethodName): number {
  if (method === 'prompt' || name.endsWith('embedding.weight')) return 0.5;
  if (method === 'full') return 0.02;
  if (name.includes('ptplus_phi.')) return 0.3;
  // LoRA: a rank-r update of ~0.1·0.1·s per entry moves logits clearly while staying a realistic size.
  if (name.includes('.lora_')) return 0.1;
  return 0.2;
}

/** Same names and shapes as `state`, new seeded random values (full: base weights plus noise). */
export function randomizeState(state: StateDict, method: MethodName, seed: number): StateDict {
  const normal = seededNormal(seed);
  const out: StateDict = {};
  for (const name of Object.keys(state).sort()) {
    const { shape, data } = state[name];
    const std = stdFor(name, method);
    const values = new Float32Array(data.length);
    for (let i = 0; i < values.length; i++) values[i] = (method === 'full' ? data[i] : 0) + std * normal();
    out[name] = { shape: [...shape], data: values };
  }
  return out;
}

/** Attaches `method` to the model at `modelPath`, randomises its tensors and stores it as an adapter in `home`. */
export async function makeRandomAdapter(home: string, modelPath: string, method: MethodName, rawOptions: Record<string, unknown>, seed = 7): Promise<AdapterManifest> {
  const loaded = await loadModel(modelPath);
  try {
    const options = parseMethodOptions(method, rawOptions);
    const adapter = getMethod(method).attach(loaded.model, options as never, { seed });
    try {
      const state = randomizeState(adapter.stateDict(), method, seed);
      adapter.loadStateDict(state);
      return await saveAdapter(home, {
        name: `${method} ${modelPath.split(/[\\/]/).pop()}`,
        method,
        options,
        state: adapter.stateDict(),
        baseModel: { path: resolve(modelPath), architecture: loaded.model.config.architecture, parameters: loaded.model.config.parameters, files: await hashModelFiles(modelPath) },
        seed,
        backend: 'cpu',
      });
    } finally {
      adapter.dispose();
    }
  } finally {
    loaded.dispose();
  }
}
