// training.* handlers: a comparison request becomes run plans (model path, the dataset's examples and split,
// options as the trainer's --set strings) for the run queue; the rest reads runs and their insights.
import type { Handlers } from '@shared/contract';
import type { RunSummary } from '@shared/contract/calls/training';
import type { RunManifest } from '@shared/contract/training';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { datasetDir, readManifest, readSplit } from '../datasets/store/dataset-folder';
import { parseMethodOptions } from '../engine/methods/registry';
import { parseOptions, trainerOptions } from '../engine/train/config';
import { RunsStore } from '../registry/runs-store';
import { removeEntry } from '../services/registry-service';
import { generateBaseVsTuned, runDiagnostics } from '../services/run-insights';

type TrainingHandlers = Pick<
  Handlers<AppContext>,
  'training.start' | 'training.state' | 'training.metrics' | 'training.cancel' | 'training.resume' | 'training.generate' | 'training.diagnostics' | 'training.removeRun'
>;

/** An option value as a `--set` string the trainer coerces back (lists and objects as JSON). */
function asSetValue(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function summariseRun(m: RunManifest): RunSummary {
  const { trainIds, evalIds, ...dataset } = m.dataset;
  return { ...m, dataset: { ...dataset, trainCount: trainIds.length, evalCount: evalIds.length } };
}

export const trainingHandlers: TrainingHandlers = {
  'training.start': async (req, ctx) => {
    const model = await ctx.models.get(req.modelId);
    const dir = datasetDir(ctx.options.home, req.datasetId);
    const dataset = await readManifest(dir);
    const split = await readSplit(dir, req.splitName);
    const trainer = parseOptions(trainerOptions, { ...req.trainer, splitSeed: split.seed }, 'trainer');
    const trainerSet = Object.fromEntries(Object.keys({ ...req.trainer, splitSeed: 0 }).map((key) => [`train.${key}`, asSetValue((trainer as Record<string, unknown>)[key])]));
    const methods = req.methods.map((choice) => ({ ...choice, options: parseMethodOptions(choice.method, choice.options) }));
    const seen = new Set<string>();
    for (const m of methods) {
      if (seen.has(m.method)) throw new ApiError('invalid_argument', `${m.method} is listed twice`, { field: 'methods' });
      seen.add(m.method);
    }
    return ctx.runs.enqueue(
      {
        modelId: model.id,
        modelName: model.name,
        datasetId: dataset.id,
        datasetName: dataset.name,
        splitName: req.splitName,
        methods,
        seeds: req.seeds,
        steps: req.steps ?? null,
        budgetTokens: req.budgetTokens ?? null,
        trainer: { ...req.trainer, splitSeed: split.seed },
      },
      (method) => {
        const choice = methods.find((m) => m.method === method)!;
        const methodSet = Object.fromEntries(Object.entries(choice.options).map(([k, v]) => [k, asSetValue(v)]));
        return {
          modelPath: model.path,
          dataPath: dir,
          // The stored split as is: the same train and eval examples for every method and seed.
          split: { trainIds: split.trainIds, evalIds: split.evalIds },
          set: { ...methodSet, ...trainerSet },
          steps: req.steps,
          budgetTokens: req.budgetTokens,
          learningRate: choice.learningRate,
        };
      },
    );
  },

  'training.state': async (_req, ctx) => ({
    comparisons: await ctx.runs.list(),
    queue: await ctx.runs.items(),
    runs: new RunsStore(ctx.options.home).list().map(summariseRun),
  }),

  'training.metrics': async (req, ctx) => ({ runId: req.runId, points: new RunsStore(ctx.options.home).readMetrics(req.runId) }),

  'training.cancel': async (req, ctx) => ({ cancelled: await ctx.runs.cancel(req.itemId) }),

  'training.resume': async (req, ctx) => {
    const manifest = new RunsStore(ctx.options.home).read(req.runId);
    if (manifest.status === 'finished') throw new ApiError('conflict', `run ${req.runId} has already finished`, { field: 'runId' });
    return ctx.runs.enqueueResume(req.runId, { method: manifest.method, seed: manifest.seed });
  },

  'training.generate': async (req, ctx) => ({ rows: await generateBaseVsTuned(ctx.options.home, req.runId, req.prompts, req.maxNewTokens) }),

  'training.diagnostics': async (req, ctx) => runDiagnostics(ctx.options.home, req.runId, req.texts),

  'training.removeRun': async (req, ctx) => {
    const result = await removeEntry(ctx.options.home, 'run', req.runId, req.force);
    return { removed: result.deleted, dependents: result.orphaned.adapters.map((a) => `adapter ${a}`) };
  },
};
