// Frees each tape node's saved tensors, and the gradients of its outputs, as soon as the backward pass has
// moved past the node, instead of when the whole backward pass ends.
//
// tfjs's engine.gradients keeps every tensor the tape saved (activations) and every intermediate gradient alive
// until backpropagation is complete: the peak of a training step is all saved activations plus nearly all
// gradients at once. PyTorch's autograd releases a node's saved tensors once its backward has run (unless
// retain_graph) and drops an intermediate gradient once it is consumed. This does the same for tfjs: it wraps the
// gradient function of each node the tape records, and when backpropagation calls the next node's gradient (the
// previous node is then done: its input gradients have all been taken) it disposes the previous node's saved
// tensors and the gradients it received. The same gradient functions run on the same tensors, so values are
// unchanged; only lifetimes shorten (early-release-tape.test.ts checks both).
//
// It reads tfjs internals (engine.addTapeNode, state.activeTape), as block-recompute.ts does; where they are
// missing (another tfjs version), it runs the function unchanged.
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  addTapeNode?: (...args: unknown[]) => void;
  state: { activeTape?: TapeNode[] | null };
}

/** What a node leaves behind once the backward pass has moved past it. */
interface Finished {
  saved: tf.Tensor[];
  dys: tf.Tensor[];
  /** Input gradients the node returned: never freed here (the tape now holds them). */
  returned: Set<tf.Tensor>;
}

/** Runs `fn` (a tf.variableGrads or tf.grads call) with the tape it records releasing tensors early. */
export function releasingTapeEarly<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as EngineInternals;
  const addTapeNode = engine.addTapeNode;
  // (state.activeTape appears with the first tape, so only the method is checked.)
  if (typeof addTapeNode !== 'function' || typeof engine.state !== 'object') return fn();
  const hadOwn = Object.prototype.hasOwnProperty.call(engine, 'addTapeNode');
  // The tape of this call: a nested gradient computation (block recomputation) records its own tape, which
  // its engine.gradients frees itself and whose seed gradient is ours, so its nodes are left alone.
  let tape: TapeNode[] | null = null;
  let previous: Finished | null = null;
  // How often each tensor was returned as an input gradient: a gradient returned for two inputs (AddN, Cast
  // return dy itself) is shared and is left to the end of the backward pass.
  const timesReturned = new WeakMap<tf.Tensor, number>();
  // How many nodes output each tensor: an op that returns its input (an identity customGrad) makes a tensor
  // whose gradient two nodes read, so that gradient is left to the end as well.
  const timesProduced = new WeakMap<tf.Tensor, number>();

  const release = (done: Finished | null): void => {
    if (!done) return;
    for (const t of done.saved) if (!done.returned.has(t)) t.dispose();
    for (const t of done.dys) if (!done.returned.has(t) && (timesReturned.get(t) ?? 0) <= 1) t.dispose();
  };

  const wrap = (node: TapeNode, outputs: tf.Tensor[]): void => {
    const gradient = node.gradient;
    if (!gradient) return;
    node.gradient = (dys) => {
      release(previous);
      previous = null;
      const inputGradients = gradient(dys);
      const ownDys = dys.filter((dy, i): dy is tf.Tensor => dy != null && timesProduced.get(outputs[i]) === 1);
      const finished: Finished = { saved: node.saved ?? [], dys: ownDys, returned: new Set() };
      const wrapped: Record<string, () => tf.Tensor> = {};
      for (const [name, take] of Object.entries(inputGradients)) {
        wrapped[name] = () => {
          const dx = take();
          finished.returned.add(dx);
          timesReturned.set(dx, (timesReturned.get(dx) ?? 0) + 1);
          return dx;
        };
      }
      previous = finished;
      return wrapped;
    };
  };

  engine.addTapeNode = function (this: EngineInternals, ...args: unknown[]) {
    addTapeNode.apply(this, args);
    const active = this.state.activeTape;
    if (!active?.length) return;
    tape ??= active;
    if (active !== tape) return;
    const outputs = args[2] as tf.Tensor[];
    for (const t of outputs) timesProduced.set(t, (timesProduced.get(t) ?? 0) + 1);
    wrap(active[active.length - 1], outputs);
  };
  try {
    return fn();
  } finally {
    // The last node's tensors are freed by engine.gradients itself, as before.
    if (hadOwn) engine.addTapeNode = addTapeNode;
    else delete engine.addTapeNode;
  }
}
