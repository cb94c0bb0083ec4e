// adapters.*: the registry of trained adapters and of the runs that can become one — listing with filters
// and sorts (from <home>/index.json), provenance, names/tags/notes, deletion that names dependents, saving
// a run as an adapter, and export to PEFT / merged weights / Prefix-Tuning+ with a reload-parity check.
import { z } from 'zod';
import { call } from '../define';
import { MethodNameSchema } from '../training';

const CommonEntry = {
  id: z.string(),
  name: z.string(),
  tags: z.array(z.string()),
  notes: z.string(),
  createdAt: z.string(),
  method: z.string(),
  modelPath: z.string().nullable(),
  architecture: z.string().nullable(),
  datasetPath: z.string().nullable(),
  datasetSha256: z.string().nullable(),
  seed: z.number().nullable(),
  /** Final metrics as numbers (accuracy, evalLoss, tokensPerSecond, …). */
  metrics: z.record(z.string(), z.number()),
};

export const AdapterEntrySchema = z.object({
  kind: z.literal('adapter'),
  ...CommonEntry,
  status: z.literal('ready'),
  runId: z.string().nullable(),
  parameters: z.number(),
});
export type AdapterEntry = z.infer<typeof AdapterEntrySchema>;

export const RunEntrySchema = z.object({
  kind: z.literal('run'),
  ...CommonEntry,
  /** 'damaged': its manifest.json cannot be read (listed so it does not vanish; showing it says why). */
  status: z.enum(['running', 'finished', 'cancelled', 'failed', 'interrupted', 'damaged']),
  step: z.number(),
  totalSteps: z.number(),
  endedAt: z.string().nullable(),
});
export type RunEntry = z.infer<typeof RunEntrySchema>;

export const RegistryEntrySchema = z.discriminatedUnion('kind', [AdapterEntrySchema, RunEntrySchema]);
export type RegistryEntry = z.infer<typeof RegistryEntrySchema>;

export const RegistryFilterSchema = z.object({
  /** Imported model id, model path, or name. */
  model: z.string().optional(),
  /** Imported dataset id, dataset path, sha256, or name. */
  dataset: z.string().optional(),
  method: MethodNameSchema.optional(),
  /** Runs: running | finished | cancelled | failed | interrupted | damaged; adapters: ready. */
  status: z.string().optional(),
  tag: z.string().optional(),
  /** 'created' (default), 'name', 'method', 'status', or 'metric:<name>'. */
  sort: z
    .string()
    .regex(/^(created|name|method|status|metric:[A-Za-z0-9_]+)$/)
    .optional(),
  order: z.enum(['asc', 'desc']).optional(),
  /** Which kinds to list (default both). */
  kinds: z
    .array(z.enum(['adapter', 'run']))
    .min(1)
    .default(['adapter', 'run']),
});

export const EntryRefSchema = z.object({ kind: z.enum(['adapter', 'run']), id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not an id') });

export const ExportFormatSchema = z.enum(['peft', 'merged', 'ptplus', 'gguf-lora', 'gguf']);
export type ExportFormatName = z.infer<typeof ExportFormatSchema>;

export const LabelsSchema = z.object({ name: z.string().optional(), tags: z.array(z.string()), notes: z.string() });

export const adaptersCalls = {
  'adapters.list': call(
    RegistryFilterSchema.strict(),
    z.object({ entries: z.array(RegistryEntrySchema) }),
    'Adapters and runs, filtered and sorted (adapters first unless a sort says otherwise).',
  ),
  'adapters.show': call(
    EntryRefSchema.strict(),
    z.object({
      entry: RegistryEntrySchema,
      /** The provenance manifest as stored (base model with file hashes, dataset, options, trainer, versions). */
      manifest: z.record(z.string(), z.unknown()),
      /** Adapters made from this run (runs only). */
      adapters: z.array(z.string()),
      /** Export formats this entry's method supports. */
      exportFormats: z.array(ExportFormatSchema),
    }),
    'One adapter or run with its full provenance and what it can be exported to.',
  ),
  'adapters.label': call(
    EntryRefSchema.extend({
      name: z.string().min(1).max(120).optional(),
      notes: z.string().max(20_000).optional(),
      addTags: z.array(z.string().min(1).max(40)).optional(),
      removeTags: z.array(z.string().min(1).max(40)).optional(),
    }).strict(),
    LabelsSchema,
    'Rename an adapter or run, set its notes, add or remove tags (the provenance manifest is never rewritten).',
  ),
  'adapters.remove': call(
    EntryRefSchema.extend({ force: z.boolean().default(false) }).strict(),
    z.object({ removed: z.boolean(), dependents: z.array(z.string()) }),
    'Delete an adapter, or a run; a run with adapters made from it is refused (naming them) unless force.',
  ),
  'adapters.createFromRun': call(
    z.object({ runId: z.string(), name: z.string().min(1).max(120).optional(), allowUnfinished: z.boolean().default(false) }).strict(),
    AdapterEntrySchema,
    "Save a run's last checkpoint as an adapter with the run's provenance.",
  ),
  'adapters.export': call(
    z
      .object({
        id: z.string(),
        format: ExportFormatSchema,
        outDir: z.string(),
        force: z.boolean().default(false),
        /** gguf-lora: the adapter tensors' type (default f32); gguf: the merged weights' type (default f16). */
        quant: z.enum(['f32', 'f16', 'q8_0']).optional(),
      })
      .strict(),
    z.object({
      format: ExportFormatSchema,
      outDir: z.string(),
      files: z.array(z.string()),
      /** Logits of the reloaded export vs the in-app model on a few inputs. */
      parity: z.object({
        maxAbsDiff: z.number(),
        inputs: z.array(z.array(z.number())),
        ok: z.boolean(),
        /** GGUF exports: llama.cpp itself (node-llama-cpp) with the export vs the in-app model; `skipped` where it cannot run. */
        llamaCpp: z
          .union([
            z.object({
              runtime: z.string(),
              positions: z.number(),
              top1Agreement: z.number(),
              maxAbsLogProbDiff: z.number(),
              thresholds: z.object({ minTop1Agreement: z.number(), maxAbsLogProbDiff: z.number() }),
              ok: z.boolean(),
            }),
            z.object({ ok: z.literal(true), skipped: z.string() }),
          ])
          .optional(),
      }),
      /** GGUF exports: the command that registers it with Ollama (`ollama create NAME -f DIR/Modelfile`). */
      ollamaCommand: z.string().optional(),
    }),
    'Write an adapter or finished run as PEFT, merged weights or Prefix-Tuning+, then reload it and compare logits.',
  ),
};
