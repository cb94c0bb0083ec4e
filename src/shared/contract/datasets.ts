// datasets.*: what a dataset file holds (inspect), how it becomes training examples (import, templates),
// and how it is split. Plain zod: the renderer, the CLI (`prefixlab data inspect --json`) and main share it.
import { z } from 'zod';

// ---- vocabularies ----

/** How the file is laid out. 'trec' is the `COARSE:fine question` line format of the TREC question set. */
export const DatasetFormatSchema = z.enum(['jsonl', 'json', 'csv', 'tsv', 'parquet', 'text', 'trec']);
export type DatasetFormat = z.infer<typeof DatasetFormatSchema>;

/**
 * The text encoding the file was decoded with ('windows-1252' = the UTF-8 → Windows-1252 fallback was used;
 * 'latin1' is only in manifests stored before that fallback replaced ISO-8859-1).
 */
export const TextEncodingSchema = z.enum(['utf-8', 'utf-16le', 'utf-16be', 'windows-1252', 'latin1']);
export type TextEncoding = z.infer<typeof TextEncodingSchema>;

/** What a record is used for; decides the roles a mapping fills and the default template. */
export const TaskKindSchema = z.enum(['classification', 'completion', 'instruction', 'chat', 'text']);
export type TaskKind = z.infer<typeof TaskKindSchema>;

/**
 * Roles a mapping assigns to columns, per task:
 * classification: text, text2?, label · completion: prompt, completion · instruction: instruction, input?, output
 * · chat: messages · text: text.
 */
export const ROLES_BY_TASK = {
  classification: { required: ['text', 'label'], optional: ['text2'] },
  completion: { required: ['prompt', 'completion'], optional: [] },
  instruction: { required: ['instruction', 'output'], optional: ['input'] },
  chat: { required: ['messages'], optional: [] },
  text: { required: ['text'], optional: [] },
} as const satisfies Record<TaskKind, { required: readonly string[]; optional: readonly string[] }>;

/** role → column name. */
export const FieldMappingSchema = z.record(z.string(), z.string());
export type FieldMapping = z.infer<typeof FieldMappingSchema>;

/**
 * An editable template: `{{ name }}` inserts a role or column, `{{#name}}…{{/name}}` keeps its body only when
 * the value is non-empty, `{{^name}}…{{/name}}` only when it is empty. `label` is the verbalised label.
 */
export const PromptTemplateSchema = z.object({
  prompt: z.string(),
  target: z.string(),
  /** With chat: a system turn rendered from this template (none when absent or empty). */
  system: z.string().optional(),
  /**
   * Render through the model's chat template: the prompt as the user turn (after the system turn, if any) and the
   * target as the assistant's reply, so an instruction model sees its own format. Without a chat template the
   * plain "User: …\nAssistant:" format is used.
   */
  chat: z.boolean().optional(),
});
export type PromptTemplate = z.infer<typeof PromptTemplateSchema>;

/**
 * Kinds of problems. Errors block an import (unless excludeInvalid); warnings never do.
 * Errors: unreadable, no_rows, mapping, unparseable, missing_field, wrong_type, empty_text, unknown_label,
 * too_few_examples, train_eval_overlap, bad_split (a split file naming unknown rows or another file),
 * template (a row the chat template rejects).
 * Warnings: duplicate, too_long, encoding, quote (a TSV row read without quoting).
 */
export const IssueKindSchema = z.enum([
  'unreadable',
  'no_rows',
  'mapping',
  'unparseable',
  'missing_field',
  'wrong_type',
  'empty_text',
  'unknown_label',
  'too_few_examples',
  'train_eval_overlap',
  'bad_split',
  'template',
  'duplicate',
  'too_long',
  'encoding',
  'quote',
]);
export type IssueKind = z.infer<typeof IssueKindSchema>;

export const DatasetIssueSchema = z.object({
  kind: IssueKindSchema,
  severity: z.enum(['error', 'warning']),
  file: z.string(),
  /** 1-based line where the record starts (Parquet: 1-based row); absent for whole-file problems. */
  line: z.number().int().optional(),
  /** The column (or role) at fault. */
  field: z.string().optional(),
  message: z.string(),
});
export type DatasetIssue = z.infer<typeof DatasetIssueSchema>;

// ---- inspect ----

export const TokenLengthsSchema = z.object({
  p50: z.number(),
  p95: z.number(),
  max: z.number(),
  mean: z.number(),
  /** Examples measured. */
  count: z.number().int(),
  /** counts[i] examples have edges[i] <= tokens < edges[i+1] (the last bin includes max). */
  histogram: z.object({ edges: z.array(z.number()), counts: z.array(z.number().int()) }),
  /** Examples longer than context × 32 characters: only that much was tokenized (their count is a lower bound). */
  truncatedRows: z.number().int().optional(),
  /** Examples not tokenized at all: the pass's 64 Mi-character budget was spent (not in count). */
  skippedRows: z.number().int().optional(),
});
export type TokenLengths = z.infer<typeof TokenLengthsSchema>;

/** How over-long examples are cut: 'left' drops prompt tokens from the start (the target stays whole),
 * 'right' drops tokens from the end, 'drop' leaves the example out of training. */
export const TruncationRuleSchema = z.enum(['left', 'right', 'drop']);
export type TruncationRule = z.infer<typeof TruncationRuleSchema>;

export const PreviewRowSchema = z.object({
  /** Row id: the 1-based ordinal of the record in the file (stable across imports of the same file). */
  id: z.string(),
  line: z.number().int(),
  /** The record as read (long strings shortened for display). */
  values: z.record(z.string(), z.unknown()),
  prompt: z.string().optional(),
  target: z.string().optional(),
  label: z.string().optional(),
  valid: z.boolean(),
});
export type PreviewRow = z.infer<typeof PreviewRowSchema>;

/** `prefixlab data inspect FILE --json` prints exactly this; exitCode is the process's exit status. */
export const InspectResultSchema = z.object({
  file: z.string(),
  format: DatasetFormatSchema.nullable(),
  encoding: TextEncodingSchema.nullable(),
  bom: z.boolean(),
  /** Records read (valid or not). */
  rows: z.number().int(),
  validRows: z.number().int(),
  task: TaskKindSchema.nullable(),
  mapping: FieldMappingSchema,
  /** Column names (header, JSON keys, or column1… for header-less files). */
  fields: z.array(z.string()),
  /** Label name → count over valid rows (classification only; empty otherwise). */
  labels: z.record(z.string(), z.number().int()),
  /** The first 100 errors, in file order. */
  errors: z.array(DatasetIssueSchema),
  /** Every error counted, by kind (not capped). */
  errorCounts: z.record(z.string(), z.number().int()),
  warnings: z.array(DatasetIssueSchema),
  warningCounts: z.record(z.string(), z.number().int()),
  tokenLengths: TokenLengthsSchema.optional(),
  truncation: z.object({ contextLength: z.number().int(), rule: TruncationRuleSchema, count: z.number().int() }).optional(),
  preview: z.array(PreviewRowSchema),
  /** 'valid' → exit 0, 'invalid' (has errors) → exit 1, 'unreadable' (cannot read at all) → exit 2. */
  status: z.enum(['valid', 'invalid', 'unreadable']),
  exitCode: z.union([z.literal(0), z.literal(1), z.literal(2)]),
  /** False when reading stopped early (limitRows). */
  complete: z.boolean(),
  sha256: z.string().nullable(),
  bytes: z.number().int(),
  header: z.boolean().optional(),
  delimiter: z.string().optional(),
  textMode: z.enum(['lines', 'documents']).optional(),
});
export type InspectResult = z.infer<typeof InspectResultSchema>;

// ---- examples, splits, manifests ----

/** What the trainer consumes. Prompt tokens are masked from the loss; target tokens are trained. */
export const ExampleSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  target: z.string(),
  label: z.string().optional(),
  /** GSM8K-style answers: the text after the last `####`. */
  finalAnswer: z.string().optional(),
});
export type Example = z.infer<typeof ExampleSchema>;

export const SplitMethodSchema = z.enum(['stratified', 'random', 'kshot', 'file']);
export type SplitMethod = z.infer<typeof SplitMethodSchema>;

export const SplitOptionsSchema = z.object({
  /** 'stratified' (classification default), 'random', 'kshot' (k train examples per class), 'file'. */
  method: SplitMethodSchema.optional(),
  seed: z.number().int().default(0),
  /** Share of examples (per class when stratified) held out for eval. Default 0.1. */
  evalFraction: z.number().min(0).max(1).optional(),
  testFraction: z.number().min(0).max(1).optional(),
  /** k for 'kshot'. */
  k: z.number().int().positive().optional(),
  /** For 'file': a JSON file with {trainIds, evalIds, testIds?} (or {train, eval, test?}). */
  file: z.string().optional(),
});
export type SplitOptions = z.input<typeof SplitOptionsSchema>;

/** A frozen split: the same file and seed always give the same ids. */
export const SplitSchema = z.object({
  sourceSha256: z.string().regex(/^[0-9a-f]{64}$/),
  seed: z.number().int(),
  method: SplitMethodSchema,
  evalFraction: z.number().optional(),
  testFraction: z.number().optional(),
  k: z.number().int().optional(),
  trainIds: z.array(z.string()),
  evalIds: z.array(z.string()),
  testIds: z.array(z.string()).optional(),
});
export type Split = z.infer<typeof SplitSchema>;

export const DatasetManifestSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  name: z.string(),
  source: z.object({ path: z.string(), sha256: z.string(), bytes: z.number().int() }),
  format: DatasetFormatSchema,
  encoding: TextEncodingSchema,
  task: TaskKindSchema,
  mapping: FieldMappingSchema,
  template: PromptTemplateSchema.nullable(),
  chatTemplate: z.string().optional(),
  labelNames: z.record(z.string(), z.string()).optional(),
  verbalizer: z.record(z.string(), z.string()).optional(),
  /** Records in the source file. */
  rows: z.number().int(),
  /** Examples stored in examples.jsonl. */
  examples: z.number().int(),
  /** Rows left out because they were invalid (only with excludeInvalid). */
  excluded: z.number().int(),
  excludedCounts: z.record(z.string(), z.number().int()),
  labels: z.record(z.string(), z.number().int()),
  tokenLengths: TokenLengthsSchema.optional(),
  splits: z.array(z.string()),
  createdAt: z.string(),
});
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;

export const TokenPreviewSchema = z.object({
  tokens: z.array(z.object({ id: z.number().int(), text: z.string(), isPrompt: z.boolean() })),
  promptTokens: z.number().int(),
  targetTokens: z.number().int(),
});
export type TokenPreview = z.infer<typeof TokenPreviewSchema>;

// ---- calls ----

/** The cloneable part of inspect/import options (a tokenizer comes from a model on the main side). */
export const DatasetReadOptionsSchema = z.object({
  task: TaskKindSchema.optional(),
  map: FieldMappingSchema.optional(),
  template: PromptTemplateSchema.optional(),
  format: DatasetFormatSchema.optional(),
  header: z.boolean().optional(),
  textMode: z.enum(['lines', 'documents']).optional(),
  labelNames: z.record(z.string(), z.string()).optional(),
  labels: z.array(z.string()).optional(),
  verbalizer: z.record(z.string(), z.string()).optional(),
  chatTemplate: z.string().optional(),
  contextLength: z.number().int().positive().optional(),
  truncation: TruncationRuleSchema.optional(),
  split: SplitOptionsSchema.optional(),
  evalFile: z.string().optional(),
});
export type DatasetReadOptions = z.input<typeof DatasetReadOptionsSchema>;
