// models.*: importing local models (a Hugging Face folder or a llama2.c checkpoint), their architecture card,
// and the generation playground (streamed tokens arrive as `models.token` events).
import { z } from 'zod';
import { call } from '../define';

export const ModelFormatSchema = z.enum(['hf', 'llama2c', 'gguf']);
export type ModelFormat = z.infer<typeof ModelFormatSchema>;

/** What the Models view shows about an architecture; read from the config without loading weights. */
export const ModelCardSchema = z.object({
  /** Hugging Face model_type: llama, mistral, qwen2, gpt2, gpt_neox. */
  architecture: z.string(),
  /** Parameters (tied embeddings counted once). */
  parameters: z.number().int(),
  layers: z.number().int(),
  /** Model width D. */
  hidden: z.number().int(),
  heads: z.number().int(),
  /** Key/value heads (fewer than heads = grouped-query attention). */
  kvHeads: z.number().int(),
  headDim: z.number().int(),
  vocabSize: z.number().int(),
  /** Longest context in tokens. */
  contextLength: z.number().int(),
  /** dtype of the weights on disk; everything computes in float32. */
  dtype: z.string(),
  /** Bytes of the weights at float32. */
  memoryFloat32Bytes: z.number(),
  tiedEmbeddings: z.boolean(),
  hasTokenizer: z.boolean(),
});
export type ModelCard = z.infer<typeof ModelCardSchema>;

export const ModelEntrySchema = z.object({
  id: z.string(),
  name: z.string(),
  /** Where the model lives on disk (the folder, or the .bin checkpoint); never copied. */
  path: z.string(),
  format: ModelFormatSchema,
  card: ModelCardSchema,
  importedAt: z.string(),
});
export type ModelEntry = z.infer<typeof ModelEntrySchema>;

export const ModelIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,80}$/, 'not a model id');

export const SamplingSchema = z.object({
  /** New tokens at most. */
  maxNewTokens: z.number().int().min(1).max(4096).default(64),
  /** 0 = greedy (argmax). */
  temperature: z.number().min(0).max(5).default(0.8),
  /** 0 = off. */
  topK: z.number().int().min(0).max(100000).default(40),
  /** 1 = off. */
  topP: z.number().gt(0).max(1).default(0.95),
  /** 1 = off. */
  repetitionPenalty: z.number().min(1).max(3).default(1),
  seed: z.number().int().min(0).default(0),
});
export type Sampling = z.input<typeof SamplingSchema>;

export const FinishReasonSchema = z.enum(['eos', 'stop_string', 'length', 'cancelled']);

export const GenerationResultSchema = z.object({
  generationId: z.string(),
  /** The generated text (prompt excluded). */
  text: z.string(),
  promptTokens: z.number().int(),
  generatedTokens: z.number().int(),
  finishReason: FinishReasonSchema,
  elapsedMs: z.number(),
  /** Generated tokens per second of decoding (prefill included). */
  tokensPerSecond: z.number(),
});
export type GenerationResult = z.infer<typeof GenerationResultSchema>;

/** Client-chosen id so a window can tell its own streamed tokens apart before the call returns. */
export const GenerationIdSchema = z.string().regex(/^[A-Za-z0-9_-]{4,64}$/);

export const modelsCalls = {
  'models.list': call(z.object({}).strict(), z.object({ models: z.array(ModelEntrySchema) }), 'Imported models, newest first.'),
  'models.inspect': call(
    z.object({ path: z.string() }).strict(),
    z.object({ path: z.string(), format: ModelFormatSchema, card: ModelCardSchema }),
    'Read a model folder or llama2.c .bin and describe its architecture without importing it.',
  ),
  'models.import': call(
    z.object({ path: z.string(), name: z.string().min(1).max(120).optional() }).strict(),
    ModelEntrySchema,
    'Register a model folder or llama2.c checkpoint (validated, not copied) under <home>/models.',
  ),
  'models.remove': call(
    z.object({ id: ModelIdSchema, force: z.boolean().default(false) }).strict(),
    z.object({ removed: z.boolean(), dependents: z.array(z.string()) }),
    'Forget an imported model (its files stay where they are); without force, refuses while runs or adapters use it and names them.',
  ),
  'models.generate': call(
    SamplingSchema.extend({ modelId: ModelIdSchema, prompt: z.string().max(100_000), generationId: GenerationIdSchema }).strict(),
    GenerationResultSchema,
    'Generate a continuation of the prompt; each token streams as a models.token event before the call returns.',
  ),
  'models.cancelGeneration': call(
    z.object({ generationId: GenerationIdSchema }).strict(),
    z.object({ cancelled: z.boolean() }),
    'Stop a running generation; its call returns what was generated with finishReason "cancelled".',
  ),
};

export const modelsEvents = {
  /** One generated token: its text (may be empty for a partial UTF-8 byte) and the running speed. */
  'models.token': z.object({
    generationId: z.string(),
    /** 0-based index of the token among generated tokens. */
    index: z.number().int(),
    /** Text this token adds to the output so far. */
    text: z.string(),
    tokensPerSecond: z.number(),
  }),
};
