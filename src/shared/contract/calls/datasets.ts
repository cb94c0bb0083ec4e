// datasets.* as the workbench calls them: inspect a file (with a model's tokenizer for token lengths), a quick
// template preview, import, list, splits and the token-level view of one example. The result shapes are the
// datasets module's own (../datasets.ts); long passes report progress and can be cancelled by job id.
import { z } from 'zod';
import { call } from '../define';
import {
  DatasetManifestSchema,
  DatasetReadOptionsSchema,
  InspectResultSchema,
  PromptTemplateSchema,
  SplitOptionsSchema,
  TokenPreviewSchema,
  TruncationRuleSchema,
} from '../datasets';
import { ModelIdSchema } from './models';

/** Client-chosen id of a long pass, for progress events and datasets.cancel. */
export const JobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{4,64}$/);

export const DatasetIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not a dataset id');

/** Inspect/import options plus what only the workbench needs. */
const WorkbenchReadSchema = DatasetReadOptionsSchema.extend({
  file: z.string(),
  /** Tokenize with this imported model: token-length statistics and truncation checks. */
  modelId: ModelIdSchema.optional(),
  jobId: JobIdSchema.optional(),
});

export const InspectReplySchema = InspectResultSchema.extend({
  /** The template the preview was rendered with (the task's default unless one was given); null for chat. */
  template: PromptTemplateSchema.nullable(),
});
export type InspectReply = z.infer<typeof InspectReplySchema>;

export const SplitSummarySchema = z.object({
  name: z.string(),
  method: z.string(),
  seed: z.number().int(),
  k: z.number().int().optional(),
  evalFraction: z.number().optional(),
  trainCount: z.number().int(),
  evalCount: z.number().int(),
  testCount: z.number().int(),
  /** label → train examples of that label (classification). */
  trainLabels: z.record(z.string(), z.number().int()),
});
export type SplitSummary = z.infer<typeof SplitSummarySchema>;

export const DatasetEntrySchema = DatasetManifestSchema.extend({ splitSummaries: z.array(SplitSummarySchema) });
export type DatasetEntry = z.infer<typeof DatasetEntrySchema>;

export const datasetsCalls = {
  'datasets.inspect': call(
    WorkbenchReadSchema.extend({ previewRows: z.number().int().min(0).max(200).default(20) }).strict(),
    InspectReplySchema,
    'Read a whole dataset file: format, encoding, task, mapping, labels, every problem with file/line/field, token lengths, preview.',
  ),
  'datasets.preview': call(
    WorkbenchReadSchema.extend({ rows: z.number().int().min(1).max(200).default(20) }).strict(),
    InspectReplySchema,
    'The first rows only, rendered with the given mapping and template: the live preview while editing (complete: false).',
  ),
  'datasets.import': call(
    WorkbenchReadSchema.extend({
      excludeInvalid: z.boolean().optional(),
      name: z.string().min(1).max(120).optional(),
      splitName: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
        .optional(),
    }).strict(),
    DatasetEntrySchema,
    'Store a dataset (normalised examples, manifest, split) in the app folder; invalid rows fail it unless excludeInvalid.',
  ),
  'datasets.list': call(z.object({}).strict(), z.object({ datasets: z.array(DatasetEntrySchema) }), 'Imported datasets with their splits, newest first.'),
  'datasets.remove': call(
    z.object({ id: DatasetIdSchema, force: z.boolean().default(false) }).strict(),
    z.object({ removed: z.boolean(), dependents: z.array(z.string()) }),
    'Delete an imported dataset; without force, refuses while runs or adapters depend on it and names them.',
  ),
  'datasets.makeSplit': call(
    z
      .object({
        id: DatasetIdSchema,
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-"'),
        split: SplitOptionsSchema,
      })
      .strict(),
    SplitSummarySchema,
    'Make and store a seeded split (stratified, random, or k examples per class) of an imported dataset.',
  ),
  'datasets.previewTokens': call(
    z
      .object({
        modelId: ModelIdSchema,
        prompt: z.string().max(200_000),
        target: z.string().max(200_000),
        /** A classification row's label: labelled rows are trained without EOS, as the trainer does. */
        label: z.string().max(10_000).optional(),
        contextLength: z.number().int().min(2).optional(),
        truncation: TruncationRuleSchema.optional(),
      })
      .strict(),
    TokenPreviewSchema,
    "One example as the model's tokenizer sees it: each token marked prompt (masked from the loss) or target (trained).",
  ),
  'datasets.cancel': call(z.object({ jobId: JobIdSchema }).strict(), z.object({ cancelled: z.boolean() }), 'Stop a running inspect or import pass.'),
};

export const datasetsEvents = {
  /** Progress of a long dataset pass started with a jobId. */
  'datasets.progress': z.object({
    jobId: z.string(),
    phase: z.string(),
    bytesRead: z.number(),
    totalBytes: z.number(),
    rows: z.number().int(),
  }),
};
