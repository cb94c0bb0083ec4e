// The one interface every PEFT method implements, so the trainer, registry, export and UI treat them alike.
// Adding a method = one new file in this folder that exports a MethodDefinition, plus one line in registry.ts.
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';

export type MethodName = 'ptplus' | 'prefix' | 'prompt' | 'lora' | 'full';

/** Trained tensors as saved in checkpoints and adapters (float32, row-major), keyed by our own names. */
export type StateDict = Record<string, { shape: number[]; data: Float32Array }>;

/** What a method needs beyond the model when it attaches (all optional). */
export interface AttachContext {
  /** Seed for the method's own random initialisation. */
  seed: number;
  /** Encodes text with the model's tokenizer (Prompt Tuning's init-from-text). */
  encode?: (text: string) => number[];
  /** Receives non-fatal warnings (e.g. full fine-tuning likely to exceed free memory). */
  warn?: (message: string) => void;
}

/** A method attached to one loaded model: owns its variables and the hooks that change the forward pass. */
export interface PeftAdapter {
  readonly method: MethodName;
  /** Hooks passed to model.forward(…, { hooks }). */
  readonly hooks: ModelHooks;
  /** Variables the optimiser updates (for `full`, the model's own weights made trainable). */
  trainableVariables(): tf.Variable[];
  /** Number of trainable scalars. */
  trainableParamCount(): number;
  /** Names of variables that get no weight decay (norms, biases). */
  noDecayVariableNames?(): Set<string>;
  /** Current tensors, copied out, for checkpoints and adapters. */
  stateDict(): StateDict;
  /** Restores tensors saved by stateDict(); throws naming the tensor on a missing key or wrong shape. */
  loadStateDict(state: StateDict): void;
  /**
   * The adapter's own random stream (LoRA dropout masks), saved in checkpoints so that a resumed run draws
   * the same masks as an uninterrupted one. Adapters without randomness leave these out.
   */
  randomState?(): number;
  setRandomState?(state: number): void;
  /** Switch train-only behaviour (dropout) on or off. */
  setTraining(isTraining: boolean): void;
  /** Frees every tensor the adapter owns (never the model's, except what it made trainable for `full`). */
  dispose(): void;
}

export interface MethodDefinition<Schema extends z.ZodObject = z.ZodObject> {
  name: MethodName;
  /** Shown in the UI. */
  label: string;
  /** One sentence: what the method trains. */
  summary: string;
  /**
   * Options with defaults, limits and a one-line .describe() per field; the renderer draws the method's
   * form from this schema's JSON Schema.
   */
  options: Schema;
  /** Learning rate that suits this method by default (methods differ by ~300×, see docs/results.md). */
  defaultLearningRate: number;
  /** Trainable parameters these options would create on a model of this shape, without allocating. */
  countParameters(config: CausalLM['config'], options: z.output<Schema>): number;
  attach(model: CausalLM, options: z.output<Schema>, ctx: AttachContext): PeftAdapter;
}
