// stories260K (HF format) against the independent numpy reference: first-step logits and 256 greedy ids,
// on both portable backends and on native TensorFlow where it loads.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { generate } from '../generate';
import { loadModel } from '../io/load-model';
import { KVCache } from './kv-cache';
import { hasStories, stories } from '../test-paths';

const HAS_STORIES = hasStories();
// The native TensorFlow backend joins where it loads (CI builds it with scripts/native-tf/setup.sh).
const hasNative = (await probeBackends()).some((b) => b.name === 'tensorflow' && b.available);
if (!hasNative) console.log('stories260K parity on the tensorflow backend skipped: tfjs-node is not available here');

describe.skipIf(!HAS_STORIES)('stories260K (HF folder)', () => {
  for (const backend of ['wasm', 'cpu', 'tensorflow'] as const) {
    it.skipIf(backend === 'tensorflow' && !hasNative)(`matches the reference logits and greedy ids on ${backend}`, async () => {
      await initBackend(backend);
      const reference = JSON.parse(readFileSync(stories.reference, 'utf8')) as { greedy_ids: number[]; first_step_logits: number[] };
      const before = tf.memory().numTensors;
      const loaded = await loadModel(stories.hf);
      try {
        expect(loaded.model.config).toMatchObject({ architecture: 'llama', parameters: 260_032, tiedEmbeddings: true, sourceDtype: 'F32' });
        expect(loaded.tokenizer?.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
        const logits = tf.tidy(() => loaded.model.forward(tf.tensor2d([[1]], [1, 1], 'int32'))); // [1, 1, 512]
        const values = await logits.data();
        logits.dispose();
        expect(Math.max(...reference.first_step_logits.map((v, i) => Math.abs(v - values[i])))).toBeLessThan(1e-4);
        // The reference stops only at BOS (=1, run.c's rule) or after 256 tokens.
        const out = await generate(loaded.model, [[1]], { maxNewTokens: 256, eosTokenIds: [1] });
        expect(out.ids[0]).toEqual(reference.greedy_ids);
        // Cached decoding equals a full pass: exactly on cpu; on wasm XNNPACK uses other matmul kernels for
        // one-row products, which moves logits of magnitude ~20 by a few float32 ulps.
        const cacheDiff = cachedVersusFull(loaded.model, [1, ...reference.greedy_ids.slice(0, 40)]);
        expect(cacheDiff).toBeLessThan(backend === 'cpu' ? 1e-5 : 5e-5);
      } finally {
        loaded.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

/** Max |logits| difference between one-token-at-a-time decoding with a KV cache and a single full pass. */
function cachedVersusFull(model: Awaited<ReturnType<typeof loadModel>>['model'], ids: number[]): number {
  const cache = new KVCache(model.config.layers);
  const steps = ids.map((id) => tf.tidy(() => model.forward(tf.tensor2d([[id]], [1, 1], 'int32'), { cache }))); // [1, 1, V] each
  const diff = tf.tidy(() => {
    const full = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')); // [1, T, V]
    return full.sub(tf.concat(steps, 1)).abs().max().dataSync()[0];
  });
  tf.dispose(steps);
  cache.dispose();
  return diff;
}
