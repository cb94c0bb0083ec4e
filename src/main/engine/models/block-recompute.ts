// Activation recomputation (gradient checkpointing) per decoder block: the forward pass keeps only each block's
// input; the backward pass runs the block's forward again, under its own gradient tape, when its gradient is
// needed. A training step then holds one block's activations at a time instead of every block's.
//
// How it rides on tfjs: each block is one tf.customGrad op. Its forward runs inside the op, where tfjs records
// nothing on the tape (engine.isTapeOn is false at kernel depth > 0), so none of the block's intermediates is
// kept. Its gradFunc re-runs the block under engine.gradients with dy. customGrad's gradFunc can only return
// gradients for the op's own inputs (tfjs-core engine.customGrad asserts one per input), and the variables a
// block reads (LoRA A/B, PT+ memories, full fine-tuning's weights) are read through closures, not passed in;
// listing every trainable variable as an input of every block would cost a zero tensor per variable per block
// (the whole model per block for full fine-tuning). So the recomputation differentiates with respect to the
// session's variables too and hands their gradients to the session, which the trainer adds to the tape's
// (RecomputeSession.takeGradient). The op's inputs are the block input, the prefix keys/values of Prefix-Tuning
// (per-call tensors computed from trainable variables outside the block: they need the tape) and an anchor: a
// scalar variable that makes tfjs's backward pass visit every block even when nothing before it is trainable
// (getFilteredNodesXToY drops nodes with no input derived from the differentiated variables).
//
// Randomness: the session restores the adapter's random stream (LoRA dropout's seed counter) to where it was
// when the block first ran, so the recomputed forward draws the same dropout masks as the first.
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from './forward-context';

/** The adapter's random stream, saved and restored around a recomputation. */
export interface RandomStream {
  get(): number;
  set(state: number): void;
}

let nextSession = 0;

/**
 * One gradient computation (a training micro-batch) with recomputed blocks. Pass it to forward as
 * opts.recompute inside tf.variableGrads over [...variables, session.anchor]; afterwards add
 * takeGradient(v) to each variable's gradient from the tape, then release().
 */
export class RecomputeSession {
  /** A zero-gradient scalar every block op takes as input (see the file comment). */
  readonly anchor: tf.Variable;
  private readonly kept = new Set<tf.Tensor>();
  private readonly gradients = new Map<tf.Variable, tf.Tensor>();
  private isReleased = false;

  constructor(
    /** Trainable variables: each recomputation differentiates with respect to those the block reads. */
    readonly variables: readonly tf.Variable[],
    private readonly random?: RandomStream,
  ) {
    this.anchor = tf.tidy(() => tf.variable(tf.scalar(0), true, `recompute-anchor-${nextSession++}`));
  }

  /** Keeps per-call tensors a block reads past the forward's tidy, until release (never variables or tensors kept by others). */
  keep(tensors: readonly (tf.Tensor | null | undefined)[]): void {
    for (const t of tensors) {
      if (!t || t.kept || t instanceof tf.Variable || this.kept.has(t)) continue;
      tf.keep(t);
      this.kept.add(t);
    }
  }

  randomState(): number | undefined {
    return this.random?.get();
  }

  /**
   * Runs `body` again under its own tape and returns dy's gradients for `inputs` (zeros where it has none); the
   * session's variables' gradients are summed into the session. The random stream is set to `randomBefore` for
   * the run and put back after.
   */
  recompute(body: () => tf.Tensor, inputs: tf.Tensor[], dy: tf.Tensor, randomBefore: number | undefined): tf.Tensor[] {
    const engine = tf.engine();
    // engine.gradients starts a fresh tape when none is recording (the outer backward pass has ended its tape)
    // and sets state.activeTape to null when done, which the outer pass still reads (to free its saved
    // tensors): give it back.
    const outerTape = engine.state.activeTape;
    const randomAfter = this.random?.get();
    if (this.random && randomBefore !== undefined) this.random.set(randomBefore);
    try {
      const { value, grads } = engine.gradients(body, [...inputs, ...this.variables], dy, true);
      value.dispose();
      this.variables.forEach((variable, i) => {
        const grad = grads[inputs.length + i];
        if (grad) this.addGradient(variable, grad);
      });
      return inputs.map((input, i) => grads[i] ?? tf.zerosLike(input));
    } finally {
      engine.state.activeTape = outerTape;
      if (this.random && randomAfter !== undefined) this.random.set(randomAfter);
    }
  }

  /** The summed gradient of `variable` from recomputed blocks (null when none read it); the caller owns it. */
  takeGradient(variable: tf.Variable): tf.Tensor | null {
    const grad = this.gradients.get(variable) ?? null;
    this.gradients.delete(variable);
    return grad;
  }

  /** Frees the kept tensors, gradients not taken and the anchor. */
  release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    tf.dispose([...this.kept, ...this.gradients.values()]);
    this.kept.clear();
    this.gradients.clear();
    this.anchor.dispose();
  }

  private addGradient(variable: tf.Variable, grad: tf.Tensor): void {
    const previous = this.gradients.get(variable);
    if (!previous) {
      this.gradients.set(variable, tf.keep(grad));
      return;
    }
    this.gradients.set(variable, tf.keep(previous.add(grad)));
    tf.dispose([previous, grad]);
  }
}

/** Per-call tensors a context holds that a block reads. */
function contextTensors(ctx: ForwardContext): tf.Tensor[] {
  const tensors: (tf.Tensor | null)[] = [ctx.mask, ctx.positions, ...ctx.groupedMasks.values()];
  return tensors.filter((t): t is tf.Tensor => t !== null);
}

/**
 * One decoder block, x [N, D] → [N, D]: `body(x)` in its own tidy (tidyBlock), or, when ctx.recompute is set and a gradient is
 * being taped, as one op that keeps only its inputs and recomputes the block in the backward pass. `ctx` is the
 * context the block's layers use (a windowed layer's own); `reads` lists other per-call tensors the body reads
 * by closure (rotary tables): they are kept for the recomputation. The body must read nothing else that the
 * forward's tidy frees (tensors a context caches on first use, the grouped-query masks, are kept here).
 */
export function runBlock(ctx: ForwardContext, layer: number, x: tf.Tensor2D, body: (x: tf.Tensor2D) => tf.Tensor2D, reads: readonly tf.Tensor[] = []): tf.Tensor2D {
  const session = ctx.recompute;
  if (!session || tf.engine().state.gradientDepth === 0) return tidyBlock(ctx, () => body(x));
  const prefix = ctx.prefix[layer];
  const prefixTensors: tf.Tensor[] = prefix ? [prefix.keys, prefix.values] : [];
  session.keep([x, ...prefixTensors, ...reads, ...contextTensors(ctx)]);
  const randomBefore = session.randomState();
  // The op's arguments are declared for the tape; the body reads x itself (the same tensor).
  const op = tf.customGrad(() => {
    const known = new Set(ctx.groupedMasks.values());
    const value = body(x);
    // Masks built on first use and cached in the context serve the later blocks and the recomputation.
    session.keep([...ctx.groupedMasks.values()].filter((mask) => !known.has(mask)));
    return {
      value,
      gradFunc: (dy: tf.Tensor) => {
        const [dx, ...dPrefix] = session.recompute(() => body(x), [x, ...prefixTensors], dy, randomBefore);
        return [dx, tf.zeros([]), ...dPrefix];
      },
    };
  });
  return op(x, session.anchor, ...prefixTensors) as tf.Tensor2D;
}

/**
 * A block run in its own tidy: what the tape did not save (most of a block's temporaries: the tape keeps clones of
 * what gradients need) is freed when the block ends instead of when the whole forward pass does, as PyTorch frees
 * what autograd did not save. Values are unchanged. Masks the context builds on first use serve the later blocks,
 * so they leave the tidy with the block's output and are freed with the forward's other tensors, as before. A
 * block's gradient may capture only long-lived tensors (the rule recomputation already sets).
 */
function tidyBlock(ctx: ForwardContext, run: () => tf.Tensor2D): tf.Tensor2D {
  const known = new Set(ctx.groupedMasks.values());
  const [out] = tf.tidy(() => [run(), ...[...ctx.groupedMasks.values()].filter((mask) => !known.has(mask))]);
  return out as tf.Tensor2D;
}
