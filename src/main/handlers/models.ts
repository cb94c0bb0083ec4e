// models.* handlers: the model registry (import/list/remove), discovery of the models users' tools keep,
// architecture cards, and streamed generation.
import type { DiscoveredModel, Handlers } from '@shared/contract';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { defaultModelName, readModelCard } from '../services/model-service';
import { removeEntry } from '../services/registry-service';

type ModelsHandlers = Pick<
  Handlers<AppContext>,
  'models.list' | 'models.inspect' | 'models.import' | 'models.discover' | 'models.cancelDiscovery' | 'models.remove' | 'models.generate' | 'models.cancelGeneration'
>;

/**
 * Paths the last discovery scan of each app found readable. Stores such as the Hugging Face cache usually lie
 * outside the folders a client may name, but what the app found there itself may be imported: a client can
 * only pick among these paths, never name a new one.
 */
const discovered = new WeakMap<AppContext, Set<string>>();

/** Runs `work` with an AbortController registered under the id (the matching cancel call aborts it). */
async function cancellable<T>(ctx: AppContext, id: string | undefined, field: string, work: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  if (!id) return work();
  if (ctx.cancellables.has(id)) throw new ApiError('conflict', 'a job with this id is already running', { field });
  const controller = new AbortController();
  ctx.cancellables.set(id, controller);
  try {
    return await work(controller.signal);
  } finally {
    ctx.cancellables.delete(id);
  }
}

export const modelsHandlers: ModelsHandlers = {
  'models.list': async (_req, ctx) => ({ models: await ctx.models.list() }),

  'models.inspect': async (req, ctx) => {
    const path = ctx.paths.check(req.path, 'path');
    return { path, ...(await readModelCard(path, (p) => ctx.modelWorker.call('inspectModel', { path: p }))) };
  },

  'models.import': async (req, ctx) => {
    const path = discovered.get(ctx)?.has(req.path) ? req.path : ctx.paths.check(req.path, 'path');
    const existing = await ctx.models.findByPath(path);
    if (existing) return existing;
    const { format, card } = await readModelCard(path, (p) => ctx.modelWorker.call('inspectModel', { path: p }));
    return ctx.models.add({ name: req.name ?? defaultModelName(path), path, format, card });
  },

  'models.discover': async (req, ctx) => {
    // User folders are confined like every other client path; the stores come from the app's own environment.
    const folders = req.folders.map((folder, i) => ctx.paths.check(folder, `folders.${i}`));
    return cancellable(ctx, req.discoveryId, 'discoveryId', async (signal) => {
      // In the model worker: a huge or hostile folder tree never blocks this event loop, and has a time limit.
      const result = await ctx.modelWorker.call('discoverModels', { folders }, { signal });
      discovered.set(ctx, new Set(result.models.filter((m) => !m.error).map((m) => m.path)));
      const imported = new Map((await ctx.models.list()).map((entry) => [entry.path, entry.id]));
      const models: DiscoveredModel[] = result.models.map((m) => (imported.has(m.path) ? { ...m, importedId: imported.get(m.path) } : m));
      return { models, warnings: result.warnings };
    });
  },

  'models.cancelDiscovery': async (req, ctx) => {
    const controller = ctx.cancellables.get(req.discoveryId);
    controller?.abort();
    return { cancelled: controller !== undefined };
  },

  'models.remove': async (req, ctx) => {
    await ctx.models.get(req.id);
    const result = await removeEntry(ctx.options.home, 'model', req.id, req.force);
    return { removed: result.deleted, dependents: [...result.orphaned.runs.map((r) => `run ${r}`), ...result.orphaned.adapters.map((a) => `adapter ${a}`)] };
  },

  'models.generate': async (req, ctx) => {
    const entry = await ctx.models.get(req.modelId);
    if (!entry.card.hasTokenizer) throw new ApiError('unsupported', 'this model has no tokenizer, so it cannot take a text prompt', { field: 'modelId' });
    if (ctx.cancellables.has(req.generationId)) throw new ApiError('conflict', 'a generation with this id is already running', { field: 'generationId' });
    const controller = new AbortController();
    ctx.cancellables.set(req.generationId, controller);
    const started = performance.now();
    let streamed = '';
    let count = 0;
    const speed = (): number => {
      const seconds = (performance.now() - started) / 1000;
      return seconds > 0 ? count / seconds : 0;
    };
    try {
      // In the model worker: loading and decoding never block this event loop; tokens stream back as events.
      const onToken = ({ text }: { text: string }): void => {
        streamed += text;
        ctx.events.emit('models.token', { generationId: req.generationId, index: count++, text, tokensPerSecond: speed() });
      };
      const result = await ctx.modelWorker.call(
        'generate',
        {
          model: entry.path,
          ...(req.messages ? { messages: req.messages } : { prompt: req.prompt ?? '' }),
          maxNewTokens: req.maxNewTokens,
          greedy: req.temperature === 0,
          temperature: req.temperature > 0 ? req.temperature : undefined,
          topK: req.topK,
          topP: req.topP,
          repetitionPenalty: req.repetitionPenalty,
          seed: req.seed,
          // Resolved, checked against this model and attached in the worker (hashing the base stays off this loop).
          ...(req.adapterId !== undefined ? { adapter: req.adapterId, home: ctx.options.home, registryOnly: true } : {}),
        },
        { signal: controller.signal, onEvent: onToken },
      );
      return {
        generationId: req.generationId,
        text: result.text,
        promptTokens: result.promptIds.length,
        generatedTokens: result.ids.length,
        finishReason: result.finishReason,
        elapsedMs: performance.now() - started,
        tokensPerSecond: result.tokensPerSecond,
      };
    } catch (err) {
      // The adapter code names the CLI's flag; here the request field is adapterId.
      if (err instanceof ApiError && err.field === '--adapter') throw new ApiError(err.code, err.message, { file: err.file, line: err.line, field: 'adapterId' });
      if (err instanceof ApiError && err.code === 'cancelled') {
        return {
          generationId: req.generationId,
          text: streamed,
          promptTokens: 0,
          generatedTokens: count,
          finishReason: 'cancelled' as const,
          elapsedMs: performance.now() - started,
          tokensPerSecond: speed(),
        };
      }
      throw err;
    } finally {
      ctx.cancellables.delete(req.generationId);
    }
  },

  'models.cancelGeneration': async (req, ctx) => {
    const controller = ctx.cancellables.get(req.generationId);
    controller?.abort();
    return { cancelled: controller !== undefined };
  },
};
