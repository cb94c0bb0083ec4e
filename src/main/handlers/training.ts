// training.* handlers: a comparison request becomes a typed ComparePlan (one RunSpec per method, on the dataset's
// stored split) for the run queue; the rest reads runs and their insights.
import type { Handlers } from '@shared/contract';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { datasetDir, readManifest, readSplit, summariseSplit } from '../services/stored-datasets';
import { validateRunOptions } from '../services/method-service';
import { removeEntry, runManifest, runMetrics, runSummaries } from '../services/registry-service';
import { generateBaseVsTuned, runDiagnostics } from '../services/run-insights';
import { comparePlanOf } from '../services/training/compare';
import { resolveTestDataset } from '../services/training/test-dataset';

type TrainingHandlers = Pick<
  Handlers<AppContext>,
  'training.start' | 'training.state' | 'training.metrics' | 'training.cancel' | 'training.resume' | 'training.generate' | 'training.diagnostics' | 'training.removeRun'
>;

export const trainingHandlers: TrainingHandlers = {
  'training.start': async (req, ctx) => {
    const model = await ctx.models.get(req.modelId);
    const dir = datasetDir(ctx.options.home, req.datasetId);
    const dataset = await readManifest(dir);
    const split = await readSplit(dir, req.splitName);
    const { methods } = validateRunOptions({ ...req.trainer, splitSeed: split.seed }, req.methods);
    const seen = new Set<string>();
    for (const m of methods) {
      if (seen.has(m.method)) throw new ApiError('invalid_argument', `${m.method} is listed twice`, { field: 'methods' });
      seen.add(m.method);
    }
    // An imported test dataset: its source file is every run's test file (RunSpec data.evalPath).
    const test =
      req.testDatasetId !== undefined
        ? await resolveTestDataset(ctx.options.home, dataset, dir, req.testDatasetId, Object.keys((await summariseSplit(dir, req.splitName, split)).trainLabels))
        : null;
    // The split's seed is the data's (RunSpec data.split.seed), not a trainer option.
    const trainer = { ...req.trainer };
    delete trainer.splitSeed;
    const plan = comparePlanOf({
      modelPath: model.path,
      dataPath: dir,
      datasetId: dataset.id,
      split: { name: req.splitName, seed: split.seed, trainIds: split.trainIds, evalIds: split.evalIds },
      ...(test ? { evalPath: test.path } : {}),
      methods,
      seeds: req.seeds,
      ...(req.engine ? { engine: req.engine } : {}),
      trainer: { ...trainer, ...(req.steps !== undefined ? { steps: req.steps } : {}), ...(req.budgetTokens !== undefined ? { budgetTokens: req.budgetTokens } : {}) },
    });
    return ctx.runs.enqueue(
      {
        modelId: model.id,
        modelName: model.name,
        datasetId: dataset.id,
        datasetName: dataset.name,
        splitName: req.splitName,
        ...(test ? { testDatasetId: test.id, testDatasetName: test.name } : {}),
        methods,
        seeds: req.seeds,
        steps: req.steps ?? null,
        budgetTokens: req.budgetTokens ?? null,
        trainer: { ...req.trainer, splitSeed: split.seed },
        ...(req.engine ? { engine: req.engine } : {}),
      },
      plan,
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

  'training.generate': async (req, ctx) => ({
    rows: await generateBaseVsTuned(ctx.options.home, req.adapterId !== undefined ? { adapterId: req.adapterId } : { runId: req.runId! }, req.prompts, req.maxNewTokens),
  }),

  'training.diagnostics': async (req, ctx) => runDiagnostics(ctx.options.home, req.runId, req.texts),

  'training.removeRun': async (req, ctx) => {
    const result = await removeEntry(ctx.options.home, 'run', req.runId, req.force);
    return { removed: result.deleted, dependents: result.orphaned.adapters.map((a) => `adapter ${a}`) };
  },
};
