// Loss and gradients of one (micro-)batch: the part of a training step that a data-parallel replica runs too
// (replica-worker.ts), so both compute it the same way.
import * as tf from '@tensorflow/tfjs';
import type { PeftAdapter } from '../methods/method';
import type { CausalLM } from '../models/causal-lm';
import { RecomputeSession } from '../models/block-recompute';
import { scoredPositions, type TokenBatch } from './batches';
import { releasingTapeEarly } from './early-release-tape';

export interface BatchGradientsArgs {
  model: CausalLM;
  adapter: PeftAdapter;
  /** The adapter's trainable variables; the gradients come back in this order. */
  variables: readonly tf.Variable[];
  batch: TokenBatch;
  /** Target tokens of the whole step: the loss is a sum over this batch's tokens divided by it. */
  targetTokens: number;
  /** Blocks recompute their activations in the backward pass (block-recompute.ts). */
  recompute: boolean;
  /** Live tensor bytes at the end of the forward pass (the step's peak is near there). */
  onForwardBytes?: (bytes: number) => void;
}

/**
 * This batch's share of the step loss and its gradients, in `variables`' order. With recomputation the blocks'
 * variables get their gradients from the session (see block-recompute.ts), added to the tape's.
 */
export async function batchGradients(args: BatchGradientsArgs): Promise<{ loss: number; grads: tf.Tensor[] }> {
  const { model, adapter, variables, batch, targetTokens } = args;
  const random = adapter.randomState && adapter.setRandomState ? { get: () => adapter.randomState!(), set: (s: number) => adapter.setRandomState!(s) } : undefined;
  const session = args.recompute ? new RecomputeSession(variables, random) : null;
  try {
    // Activations and intermediate gradients are freed as the backward pass leaves them (early-release-tape.ts).
    const { value, grads } = releasingTapeEarly(() =>
      tf.variableGrads(
        () => {
          const inputIds = tf.tensor2d(batch.inputIds, [batch.batchSize, batch.seqLen], 'int32'); // [B, T]
          const attentionMask = tf.tensor2d(batch.attentionMask, [batch.batchSize, batch.seqLen], 'int32'); // [B, T]
          // The scored positions' losses only: the LM head skips prompt and padding rows, and a frozen head never
          // builds their [N, V] logits (models/head-loss.ts).
          const { positions, labels } = scoredPositions(batch);
          const nll = model.forward(inputIds, { attentionMask, hooks: adapter.hooks, logitRows: positions, targetLabels: labels, recompute: session ?? undefined }); // [1, N, 1]
          args.onForwardBytes?.(tf.memory().numBytes);
          return nll.sum().div(targetTokens) as tf.Scalar;
        },
        session ? [...variables, session.anchor] : [...variables],
      ),
    );
    if (session) grads[session.anchor.name]?.dispose();
    const ordered: (tf.Tensor | null)[] = variables.map((v) => {
      const fromTape = grads[v.name] ?? null;
      const fromBlocks = session?.takeGradient(v) ?? null;
      if (!fromTape || !fromBlocks) return fromTape ?? fromBlocks;
      const sum = fromTape.add(fromBlocks);
      tf.dispose([fromTape, fromBlocks]);
      return sum;
    });
    try {
      const loss = (await value.data())[0];
      const missing = variables.findIndex((_, i) => !ordered[i]);
      if (missing >= 0) throw new Error(`no gradient for ${variables[missing].name}`);
      return { loss, grads: ordered as tf.Tensor[] };
    } catch (err) {
      tf.dispose(ordered.filter((g): g is tf.Tensor => g !== null));
      throw err;
    } finally {
      value.dispose();
    }
  } finally {
    session?.release();
  }
}
