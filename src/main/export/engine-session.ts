// Loads a base model and attaches a method with given tensors, in our engine: the "in-app model" an export
// is compared against, and the reloaded side of the parity check. Owns what it loads; dispose() frees it.
import * as tf from '@tensorflow/tfjs';
import { ApiError } from '@shared/errors';
import { loadModel, type LoadedModel } from '../engine/io/load-model';
import type { MethodName, PeftAdapter, StateDict } from '../engine/methods/method';
import { getMethod, parseMethodOptions } from '../engine/methods/registry';

export interface AttachedAdapter {
  adapter: PeftAdapter;
  /** Options after defaults. */
  options: Record<string, unknown>;
}

/** Attaches `method` to a loaded model and loads `state` into it (errors name the tensor). */
export function attachWithState(loaded: LoadedModel, method: MethodName, rawOptions: Record<string, unknown>, state: StateDict): AttachedAdapter {
  const options = parseMethodOptions(method, rawOptions);
  // The stored tensors replace any initial values (restoring), so e.g. Prompt Tuning need not re-encode its init text.
  const adapter = getMethod(method).attach(loaded.model, options as never, {
    seed: 0,
    encode: loaded.tokenizer ? (text: string) => loaded.tokenizer!.encode(text) : undefined,
    restoring: true,
  });
  try {
    adapter.loadStateDict(state);
  } catch (err) {
    adapter.dispose();
    throw err;
  }
  adapter.setTraining(false);
  return { adapter, options };
}

export async function loadBaseModel(path: string): Promise<LoadedModel> {
  try {
    return await loadModel(path);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found') {
      throw new ApiError('not_found', `the base model is gone: ${err.message}`, { file: err.file ?? path });
    }
    throw err;
  }
}

/**
 * Logits of `inputs` (equal lengths, one batch) through `loaded` with optional adapter hooks:
 * [n][T][V] as nested arrays of float32 values.
 */
export async function logitsOf(loaded: LoadedModel, inputs: number[][], adapter?: PeftAdapter): Promise<Float32Array[]> {
  const seqLen = inputs[0].length;
  const logits = tf.tidy(() => {
    const ids = tf.tensor2d(inputs.flat(), [inputs.length, seqLen], 'int32'); // [n, T]
    return loaded.model.forward(ids, { hooks: adapter?.hooks }); // [n, T, V]
  });
  try {
    const values = (await logits.data()) as Float32Array;
    const per = values.length / inputs.length;
    return inputs.map((_, i) => values.slice(i * per, (i + 1) * per));
  } finally {
    logits.dispose();
  }
}
