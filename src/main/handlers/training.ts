// training.* handlers: a comparison request becomes run plans (model path, the dataset's examples and split,
// options as the trainer's --set strings) for the run queue; the rest reads runs and their insights.
import type { Handlers } from '@shared/contract';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { datasetDir, readManifest, readSplit } from '../services/stored-datasets';
import { validateRunOptions } from '../services/method-service';
import { removeEntry, runManifest, runMetrics, runSummaries } from '../services/registry-service';
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

export const trainingHandlers: TrainingHandlers = {
  'training.start': async (req, ctx) => {
    const model = await ctx.models.get(req.modelId);
    const dir = datasetDir(ctx.options.home, req.datasetId);
    const dataset = await readManifest(dir);
    const split = await readSplit(dir, req.splitName);
    const { trainer, methods } = validateRunOptions({ ...req.trainer, splitSeed: split.seed }, req.methods);
    const trainerSet = Object.fromEntries(Object.keys({ ...req.trainer, splitSeed: 0 }).map((key) => [`train.${key}`, asSetValue(trainer[key])]));
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
    runs: runSummaries(ctx.options.home),
  }),

  'training.metrics': async (req, ctx) => ({ runId: req.runId, points: runMetrics(ctx.options.home, req.runId) }),

  'training.cancel': async (req, ctx) => ({ cancelled: await ctx.runs.cancel(req.itemId) }),

  'training.resume': async (req, ctx) => {
    const manifest = runManifest(ctx.options.home, req.runId);
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
