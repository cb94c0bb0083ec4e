// The one interface every PEFT method implements. A method's definition carries all of its behaviour, so the
// trainer, the export, the insights, the API and the UI ask the definition and never switch on its name:
// options schema, default learning rate and tuning grid, parameter count, attach, virtual tokens, preparation
// before step 0, diagnostics, and the export formats it supports with how it writes (and reads back) each.
//
// Adding a method: one file in this folder exporting a MethodDefinition (its options schema, pure zod, in
// src/shared/methods/<name>-options.ts), plus its line in BUILT_IN_METHODS in registry.ts and, to type its options
// in the RunSpec, in BUILT_IN_BRANCHES in src/shared/run-spec.ts (then `npm run gen:run-spec-schema`) — or registerMethod(
// definition) at run time, which holds in the calling process only (the app's training process knows the
// built-in list). Everything else derives from the registry: methods.list, `--help`, the CLI's usage lines, the
// export's format check, the renderer's method list and colours, and the names the API contract accepts
// (tests/unit/sixth-method.test.ts proves it with a method defined in that file alone).
// What this folder may import: src/shared, src/main/platform and the rest of the engine (models, io, eval, train/encode).
import type * as tf from '@tensorflow/tfjs';
import type { z } from 'zod';
import type { RunDiagnostics } from '@shared/contract/calls/training';
import type { PositionProfile } from '../eval/attention-mass';
import type { F32Source } from '../io/safetensors';
import type { TextTokenizer } from '../io/tokenizer';
import type { CausalLM } from '../models/causal-lm';
import type { ModelHooks } from '../models/hooks';
import type { EncodedExample } from '../train/encode';

/** A method's registry name (lower-case letters, digits and dashes), checked against the registry where it matters. */
export type MethodName = string;

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
  /**
   * Saved tensors replace the initial values right after attaching (checkpoints, adapters, exports): a method
   * may skip initialisation that needs more than the model (Prompt Tuning's init-from-text).
   */
  restoring?: boolean;
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
  /**
   * stateDict()'s tensors, each read when a checkpoint writer reaches it. Methods whose trained tensors are the
   * size of the model (full fine-tuning) provide it so a checkpoint never holds them all in memory at once;
   * the others' stateDict() is small and is used as it is.
   */
  stateSources?(): Record<string, F32Source>;
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

/** Positions a method puts in front of the real tokens; they take room in the model's context. */
export interface VirtualTokens {
  count: number;
  /** 'input': embeddings run with the input, as queries too (Prompt Tuning); 'keys': key/value pairs only (Prefix-Tuning). */
  placement: 'input' | 'keys';
}

/** What a method's preparation before step 0 gets: the frozen base and the run's encoded training examples. */
export interface PrepareContext {
  model: CausalLM;
  examples: readonly EncodedExample[];
  padId: number;
  log?: (message: string) => void;
}

/** A per-layer, per-position diagnostic of a trained adapter on real texts (the Train view's prefix panel). */
export interface MethodDiagnostics<A extends PeftAdapter = PeftAdapter> {
  kind: RunDiagnostics['kind'];
  measure(model: CausalLM, adapter: A, tokenizer: TextTokenizer, texts: readonly string[]): Promise<PositionProfile & { prefixLength?: number }>;
}

/** An adapter-folder format (adapter_config.json + adapter_model.safetensors): what the method writes and how it reads it back. */
export interface AdapterFileExport<A extends PeftAdapter = PeftAdapter> {
  /** adapter_config.json's peft_type, which also names the method when the folder is read back. */
  peftType: string;
  /** The method's config fields (the export adds the base model path and versions) and the tensors to save. */
  write(adapter: A): { config: Record<string, unknown>; tensors: StateDict };
  /** Our options from a config write() produced; throws ApiError('bad_file'|'unsupported') naming `file` and the field. */
  readOptions(config: Record<string, unknown>, file: string): Record<string, unknown>;
}

/** A merged Hugging Face model folder: the base weights with the method folded in. */
export interface MergedExport<A extends PeftAdapter = PeftAdapter> {
  /** Weights that differ from the loaded model's, under its names and layout; new tensors, the caller disposes them. */
  mergedWeights(adapter: A): Map<string, tf.Tensor>;
}

/**
 * llama.cpp's GGUF LoRA adapter (convert_lora_to_gguf.py's layout): the method as low-rank pairs on linear
 * layers, y = W x + scale·B·A·x. The export maps each module to the base GGUF file's tensor and its row order.
 */
export interface GgufLoraExport<A extends PeftAdapter = PeftAdapter> {
  loraPairs(adapter: A): {
    rank: number;
    scale: number;
    /** module: the HF module path (`<module>.weight` is the base weight); a [rank, inDim] and b [outDim, rank], row-major. */
    pairs: { module: string; inDim: number; outDim: number; a: Float32Array; b: Float32Array }[];
  };
  /** The adapter's state from pairs read back (module → a, b as loraPairs gave them), for the reload check. */
  stateFromPairs(pairs: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>, adapter: A): StateDict;
}

/** The export formats a method supports, each with how it writes it. A format left out is refused naming the ones present. */
export interface MethodExports<A extends PeftAdapter = PeftAdapter> {
  /** Hugging Face PEFT's adapter folder. */
  peft?: AdapterFileExport<A>;
  /** A full model folder with the adapter merged into the weights. */
  merged?: MergedExport<A>;
  /** PrefixLab's documented PREFIX_TUNING_PLUS folder (+ Python loader). */
  ptplus?: AdapterFileExport<A>;
  /** llama.cpp's LoRA adapter (adapter.gguf) for a GGUF base, with an Ollama Modelfile. */
  'gguf-lora'?: GgufLoraExport<A>;
  /** One complete GGUF model (model.gguf, F16 or Q8_0) with the adapter merged in, for a GGUF base. */
  gguf?: MergedExport<A>;
}

export interface MethodDefinition<Schema extends z.ZodObject = z.ZodObject, A extends PeftAdapter = PeftAdapter> {
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
  /** Rates `compare --tune-lr` tries when none are given: half-decade steps around the default. */
  learningRateGrid: readonly number[];
  /** True when the adapter trains the model's own weights (full fine-tuning): they count once, and a session needs a private copy. */
  trainsBaseWeights?: boolean;
  /** Trainable parameters these options would create on a model of this shape, without allocating. */
  countParameters(config: CausalLM['config'], options: z.output<Schema>): number;
  attach(model: CausalLM, options: z.output<Schema>, ctx: AttachContext): A;
  /** Positions the method adds in front of the input (none when absent). */
  virtualTokens?(options: z.output<Schema>): VirtualTokens;
  /** Runs once on a new run before step 0, after attaching (never on a resume: checkpoints hold what it set). */
  prepare?(adapter: A, ctx: PrepareContext): Promise<void>;
  diagnostics?: MethodDiagnostics<A>;
  exports: MethodExports<A>;
}
