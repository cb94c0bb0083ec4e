// datasets.* handlers: file paths checked against the allowed roots, a model's tokenizer when one is named,
// progress events and cancellation by job id, and split summaries beside each stored dataset.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Handlers } from '@shared/contract';
import type { DatasetEntry, SplitSummary } from '@shared/contract/calls/datasets';
import type { DatasetManifest, DatasetReadOptions, PromptTemplate, Split } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { defaultTemplate } from '../datasets/tasks/default-templates';
import { datasetDir, readManifest, readSplit, readStoredExamples } from '../datasets/store/dataset-folder';
import { importDataset, inspectDataset, makeSplit, previewDataset, previewTokens, type DatasetTokenizer, type ScanOptions } from '../services/dataset-service';
import { getModel } from '../services/model-service';
import { removeEntry } from '../services/registry-service';

type DatasetsHandlers = Pick<
  Handlers<AppContext>,
  | 'datasets.inspect'
  | 'datasets.preview'
  | 'datasets.import'
  | 'datasets.list'
  | 'datasets.remove'
  | 'datasets.makeSplit'
  | 'datasets.previewTokens'
  | 'datasets.cancel'
>;

type ReadRequest = DatasetReadOptions & { file: string; modelId?: string; jobId?: string };

// ---- helpers ----

/** The tokenizer of an imported model, in the shape the datasets code uses. */
async function tokenizerOf(ctx: AppContext, modelId: string): Promise<{ tokenizer: DatasetTokenizer; contextLength: number }> {
  const entry = await ctx.models.get(modelId);
  const { loaded } = await getModel(entry.path);
  const tok = loaded.tokenizer;
  if (!tok) throw new ApiError('unsupported', `${entry.name} has no tokenizer, so token lengths cannot be measured`, { field: 'modelId' });
  return {
    tokenizer: {
      encode: (text, addSpecial = true) => tok.encode(text, { addSpecialTokens: addSpecial }),
      decode: (ids) => tok.decode(ids, { skipSpecialTokens: false }),
    },
    contextLength: loaded.model.config.maxPositions,
  };
}

/** The request's read options as the scanner takes them, with every client path checked. */
async function scanOptions(ctx: AppContext, req: ReadRequest, signal?: AbortSignal): Promise<ScanOptions & { file: string }> {
  const { file, modelId, jobId, evalFile, split, ...rest } = req;
  const options: ScanOptions & { file: string } = { ...rest, file: ctx.paths.check(file, 'file'), signal };
  if (evalFile) options.evalFile = ctx.paths.check(evalFile, 'evalFile');
  if (split) options.split = split.file ? { ...split, file: ctx.paths.check(split.file, 'split.file') } : split;
  if (modelId) {
    const { tokenizer, contextLength } = await tokenizerOf(ctx, modelId);
    options.tokenizer = tokenizer;
    options.contextLength ??= contextLength;
  }
  if (jobId) {
    let lastEmit = 0;
    options.onProgress = (p) => {
      const now = Date.now();
      if (now - lastEmit < 100 && p.bytesRead < p.totalBytes) return;
      lastEmit = now;
      ctx.events.emit('datasets.progress', { jobId, ...p });
    };
  }
  return options;
}

/** Runs `work` with an AbortController registered under the job id (datasets.cancel aborts it). */
async function asJob<T>(ctx: AppContext, jobId: string | undefined, work: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  if (!jobId) return work();
  if (ctx.cancellables.has(jobId)) throw new ApiError('conflict', 'a job with this id is already running', { field: 'jobId' });
  const controller = new AbortController();
  ctx.cancellables.set(jobId, controller);
  try {
    return await work(controller.signal);
  } finally {
    ctx.cancellables.delete(jobId);
  }
}

function templateUsed(given: PromptTemplate | undefined, task: DatasetManifest['task'] | null): PromptTemplate | null {
  return given ?? (task ? defaultTemplate(task) : null);
}

/** Split summaries are read from examples.jsonl once per (dataset, split) and kept. */
const summaryCache = new Map<string, SplitSummary>();

async function summarise(dir: string, name: string, split: Split): Promise<SplitSummary> {
  const key = `${dir}\u0000${name}\u0000${split.method}\u0000${split.seed}\u0000${split.trainIds.length}\u0000${split.evalIds.length}`;
  const cached = summaryCache.get(key);
  if (cached) return cached;
  const train = new Set(split.trainIds);
  const trainLabels: Record<string, number> = {};
  for await (const example of readStoredExamples(dir)) {
    if (example.label !== undefined && train.has(example.id)) trainLabels[example.label] = (trainLabels[example.label] ?? 0) + 1;
  }
  const summary: SplitSummary = {
    name,
    method: split.method,
    seed: split.seed,
    trainCount: split.trainIds.length,
    evalCount: split.evalIds.length,
    testCount: split.testIds?.length ?? 0,
    trainLabels,
  };
  if (split.k !== undefined) summary.k = split.k;
  if (split.evalFraction !== undefined) summary.evalFraction = split.evalFraction;
  summaryCache.set(key, summary);
  return summary;
}

async function entryOf(dir: string, manifest: DatasetManifest): Promise<DatasetEntry> {
  const splitSummaries: SplitSummary[] = [];
  for (const name of manifest.splits) {
    const split = await readSplit(dir, name).catch(() => null);
    if (split) splitSummaries.push(await summarise(dir, name, split));
  }
  return { ...manifest, splitSummaries };
}

export async function listDatasetEntries(home: string): Promise<DatasetEntry[]> {
  const root = join(home, 'datasets');
  if (!existsSync(root)) return [];
  const entries: DatasetEntry[] = [];
  for (const id of await readdir(root)) {
    if (id.startsWith('.')) continue;
    const dir = join(root, id);
    const manifest = await readManifest(dir).catch(() => null);
    if (manifest) entries.push(await entryOf(dir, manifest));
  }
  return entries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

// ---- handlers ----

export const datasetsHandlers: DatasetsHandlers = {
  'datasets.inspect': async (req, ctx) =>
    asJob(ctx, req.jobId, async (signal) => {
      const { previewRows, ...read } = req;
      const { file, ...options } = await scanOptions(ctx, read, signal);
      const result = await inspectDataset(file, { ...options, previewRows });
      return { ...result, template: templateUsed(req.template, result.task) };
    }),

  'datasets.preview': async (req, ctx) =>
    asJob(ctx, req.jobId, async (signal) => {
      const { rows, ...read } = req;
      const { file, ...options } = await scanOptions(ctx, read, signal);
      const result = await previewDataset(file, { ...options, rows });
      return { ...result, template: templateUsed(req.template, result.task) };
    }),

  'datasets.import': async (req, ctx) =>
    asJob(ctx, req.jobId, async (signal) => {
      const { excludeInvalid, name, splitName, ...read } = req;
      const { file, ...options } = await scanOptions(ctx, read, signal);
      const manifest = await importDataset(file, { ...options, excludeInvalid, name, splitName }, ctx.options.home);
      return entryOf(datasetDir(ctx.options.home, manifest.id), manifest);
    }),

  'datasets.list': async (_req, ctx) => ({ datasets: await listDatasetEntries(ctx.options.home) }),

  'datasets.remove': async (req, ctx) => {
    const result = await removeEntry(ctx.options.home, 'dataset', req.id, req.force);
    return { removed: result.deleted, dependents: [...result.orphaned.runs.map((r) => `run ${r}`), ...result.orphaned.adapters.map((a) => `adapter ${a}`)] };
  },

  'datasets.makeSplit': async (req, ctx) => {
    const dir = datasetDir(ctx.options.home, req.id);
    await readManifest(dir); // not_found with the path when the dataset is gone
    const options = req.split.file ? { ...req.split, file: ctx.paths.check(req.split.file, 'split.file') } : req.split;
    const split = await makeSplit(dir, { ...options, save: req.name });
    for (const key of summaryCache.keys()) if (key.startsWith(`${dir}\u0000${req.name}\u0000`)) summaryCache.delete(key);
    return summarise(dir, req.name, split);
  },

  'datasets.previewTokens': async (req, ctx) => {
    const { tokenizer } = await tokenizerOf(ctx, req.modelId);
    return previewTokens({ prompt: req.prompt, target: req.target }, tokenizer, { contextLength: req.contextLength, truncation: req.truncation });
  },

  'datasets.cancel': async (req, ctx) => {
    const controller = ctx.cancellables.get(req.jobId);
    controller?.abort();
    return { cancelled: controller !== undefined };
  },
};
