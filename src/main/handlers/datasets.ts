// datasets.* handlers: file paths checked against the allowed roots, a model's tokenizer when one is named,
// progress events and cancellation by job id, and split summaries beside each stored dataset.
import type { Handlers } from '@shared/contract';
import type { DatasetManifest, DatasetReadOptions, PromptTemplate } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { defaultTemplate, makeSplit, type ScanOptions } from '../services/dataset-service';
import type { WorkerScanOptions } from '../services/model-worker/protocol';
import { removeEntry } from '../services/registry-service';
import { datasetDir, datasetEntry, forgetSplitSummary, listDatasetEntries, readManifest, summariseSplit } from '../services/stored-datasets';

type DatasetsHandlers = Pick<
  Handlers<AppContext>,
  'datasets.inspect' | 'datasets.preview' | 'datasets.import' | 'datasets.list' | 'datasets.remove' | 'datasets.makeSplit' | 'datasets.previewTokens' | 'datasets.cancel'
>;

type ReadRequest = DatasetReadOptions & { file: string; modelId?: string; jobId?: string };

// ---- helpers ----

/**
 * The request's read options as the scanner takes them, with every client path checked, and the path of the
 * model whose tokenizer measures token lengths. The scan itself runs in the model worker (ctx.modelWorker):
 * parsing and tokenizing never block this event loop.
 */
async function scanOptions(ctx: AppContext, req: ReadRequest): Promise<{ file: string; options: WorkerScanOptions; modelPath?: string; onProgress?: ScanOptions['onProgress'] }> {
  const { file, modelId, jobId, evalFile, split, ...rest } = req;
  const options: WorkerScanOptions = { ...rest };
  if (evalFile) options.evalFile = ctx.paths.check(evalFile, 'evalFile');
  if (split) options.split = split.file ? { ...split, file: ctx.paths.check(split.file, 'split.file') } : split;
  const modelPath = modelId ? await modelPathOf(ctx, modelId) : undefined;
  let onProgress: ScanOptions['onProgress'];
  if (jobId) {
    let lastEmit = 0;
    onProgress = (p) => {
      const now = Date.now();
      if (now - lastEmit < 100 && p.bytesRead < p.totalBytes) return;
      lastEmit = now;
      ctx.events.emit('datasets.progress', { jobId, ...p });
    };
  }
  return { file: ctx.paths.check(file, 'file'), options, modelPath, onProgress };
}

/** An imported model's folder (its tokenizer is loaded in the model worker). */
async function modelPathOf(ctx: AppContext, modelId: string): Promise<string> {
  const entry = await ctx.models.get(modelId);
  if (!entry.card.hasTokenizer) throw new ApiError('unsupported', `${entry.name} has no tokenizer, so token lengths cannot be measured`, { field: 'modelId' });
  return entry.path;
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

// ---- handlers ----

export const datasetsHandlers: DatasetsHandlers = {
  'datasets.inspect': async (req, ctx) =>
    asJob(ctx, req.jobId, async (signal) => {
      const { previewRows, ...read } = req;
      const { file, options, modelPath, onProgress } = await scanOptions(ctx, read);
      const result = await ctx.modelWorker.call('scanDataset', { kind: 'inspect', file, options: { ...options, previewRows }, modelPath }, { signal, onEvent: onProgress });
      return { ...result, template: templateUsed(req.template, result.task) };
    }),

  'datasets.preview': async (req, ctx) =>
    asJob(ctx, req.jobId, async (signal) => {
      const { rows, ...read } = req;
      const { file, options, modelPath, onProgress } = await scanOptions(ctx, read);
      const result = await ctx.modelWorker.call('scanDataset', { kind: 'preview', file, options: { ...options, rows }, modelPath }, { signal, onEvent: onProgress });
      return { ...result, template: templateUsed(req.template, result.task) };
    }),

  'datasets.import': async (req, ctx) =>
    asJob(ctx, req.jobId, async (signal) => {
      const { excludeInvalid, name, splitName, ...read } = req;
      const { file, options, modelPath, onProgress } = await scanOptions(ctx, read);
      const manifest = await ctx.modelWorker.call(
        'importDataset',
        { file, options: { ...options, excludeInvalid, name, splitName }, modelPath, home: ctx.options.home },
        { signal, onEvent: onProgress },
      );
      return datasetEntry(datasetDir(ctx.options.home, manifest.id), manifest);
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
    forgetSplitSummary(dir, req.name);
    return summariseSplit(dir, req.name, split);
  },

  'datasets.previewTokens': async (req, ctx) => {
    const modelPath = await modelPathOf(ctx, req.modelId);
    return ctx.modelWorker.call('previewTokens', {
      modelPath,
      example: { prompt: req.prompt, target: req.target, label: req.label },
      options: { contextLength: req.contextLength, truncation: req.truncation },
    });
  },

  'datasets.cancel': async (req, ctx) => {
    const controller = ctx.cancellables.get(req.jobId);
    controller?.abort();
    return { cancelled: controller !== undefined };
  },
};
