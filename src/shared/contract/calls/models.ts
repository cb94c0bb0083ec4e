// models.*: importing local models (a Hugging Face folder, a GGUF file or a llama2.c checkpoint), finding the
// ones users' tools already keep (models.discover), their architecture card, and the generation playground
// (streamed tokens arrive as `models.token` events; a chat sends `messages`).
import { z } from 'zod';
import { call } from '../define';

export const ModelFormatSchema = z.enum(['hf', 'llama2c', 'gguf']);
export type ModelFormat = z.infer<typeof ModelFormatSchema>;

/** What the Models view shows about an architecture; read from the config without loading weights. */
export const ModelCardSchema = z.object({
  /** Hugging Face model_type (SUPPORTED_MODEL_TYPES in src/main/engine/models/architectures.ts: llama, mistral, qwen2, qwen3, phi3, gemma3_text, gpt2, gpt_neox). */
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
  /** The tokenizer carries a chat template (the playground's chat mode); absent in cards written before it was recorded. */
  hasChatTemplate: z.boolean().optional(),
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

/** A registry adapter id or a finished run id (an id only: the app never takes an adapter path from a client). */
export const AdapterRefSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not an adapter or run id');

/** One turn of a conversation, formatted by the model's own chat template. */
export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(100_000),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const DiscoverySourceSchema = z.enum(['huggingface', 'ollama', 'lmstudio', 'folder']);
export type DiscoverySource = z.infer<typeof DiscoverySourceSchema>;

/** A model found where a tool keeps it (read in place, never copied); `prefixlab model list --discover` prints the same. */
export const DiscoveredModelSchema = z.object({
  /** How the store names it: `org/name` (Hugging Face), `name:tag` (Ollama), the path below the folder otherwise. */
  name: z.string(),
  /** The model folder or the GGUF file; what models.import takes. */
  path: z.string(),
  format: z.enum(['hf', 'gguf']),
  /** model_type or general.architecture; null when unreadable. */
  architecture: z.string().nullable(),
  parameters: z.number().nullable(),
  /** Tensor count per storage type (Q4_K, BF16, …); null when unreadable. */
  quantization: z.record(z.string(), z.number()).nullable(),
  source: DiscoverySourceSchema,
  sizeBytes: z.number().nullable(),
  /** Why the entry cannot be read, one line; absent for a readable model. */
  error: z.string().optional(),
  /** The id of the imported model at this path, when it is imported already. */
  importedId: z.string().optional(),
});
export type DiscoveredModel = z.infer<typeof DiscoveredModelSchema>;

/** Client-chosen id of a discovery scan, for models.cancelDiscovery. */
export const DiscoveryIdSchema = z.string().regex(/^[A-Za-z0-9_-]{4,64}$/);

/** Extra folders one scan may take (each must lie inside the folders the app may read). */
export const MAX_DISCOVERY_FOLDERS = 32;

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
    'Register a model folder, GGUF file or llama2.c checkpoint (validated, not copied) under <home>/models; a path models.discover listed may lie outside the picked folders.',
  ),
  'models.discover': call(
    z
      .object({
        /** Folders to scan besides the tools' stores (absolute, inside the folders the app may read). */
        folders: z.array(z.string().min(1).max(4096)).max(MAX_DISCOVERY_FOLDERS).default([]),
        discoveryId: DiscoveryIdSchema.optional(),
      })
      .strict(),
    z.object({ models: z.array(DiscoveredModelSchema), warnings: z.array(z.string()) }),
    'Find models in the Hugging Face hub cache, Ollama, LM Studio and the given folders (headers only, read in place); broken ones carry error.',
  ),
  'models.cancelDiscovery': call(
    z.object({ discoveryId: DiscoveryIdSchema }).strict(),
    z.object({ cancelled: z.boolean() }),
    'Stop a running models.discover scan; it fails with code "cancelled".',
  ),
  'models.remove': call(
    z.object({ id: ModelIdSchema, force: z.boolean().default(false) }).strict(),
    z.object({ removed: z.boolean(), dependents: z.array(z.string()) }),
    'Forget an imported model (its files stay where they are); without force, refuses while runs or adapters use it and names them.',
  ),
  'models.generate': call(
    SamplingSchema.extend({
      modelId: ModelIdSchema,
      /** Text to continue; give this or messages. */
      prompt: z.string().max(100_000).optional(),
      /** A conversation, formatted with the model's chat template and the generation prompt; give this or prompt. */
      messages: z.array(ChatMessageSchema).min(1).max(1000).optional(),
      generationId: GenerationIdSchema,
      /** Generate with this adapter attached (a registry adapter or finished run made on this model); absent = the base model. */
      adapterId: AdapterRefSchema.optional(),
    })
      .strict()
      .refine((req) => (req.prompt === undefined) !== (req.messages === undefined), { message: 'give exactly one of prompt or messages', path: ['prompt'] }),
    GenerationResultSchema,
    "Generate a continuation of the prompt, or the assistant's answer to messages, by the base model or with adapterId attached; each token streams as a models.token event before the call returns.",
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
