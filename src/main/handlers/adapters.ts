// adapters.* handlers: thin adapters over the registry service (index listings, provenance, labels,
// deletion) and the export service; export destinations are client paths, so they pass the PathGuard.
import type { Handlers } from '@shared/contract';
import type { AdapterEntry, RegistryEntry, RunEntry } from '@shared/contract/calls/adapters';
import { ApiError } from '@shared/errors';
import type { AppContext } from '../app/context';
import { exportAdapter, exportFormatsFor, type ExportFormat } from '../services/export-service';
import { adapterFromRun, listAdapters, listRuns, notes, removeEntry, rename, showAdapter, showRun, tag, type IndexedAdapter, type IndexedRun } from '../services/registry-service';

type AdaptersHandlers = Pick<Handlers<AppContext>, 'adapters.list' | 'adapters.show' | 'adapters.label' | 'adapters.remove' | 'adapters.createFromRun' | 'adapters.export'>;

function adapterEntry(a: IndexedAdapter): AdapterEntry {
  const { kind, id, name, tags, notes: text, createdAt, method, modelPath, architecture, datasetPath, datasetSha256, seed, metrics, status, runId, parameters } = a;
  return { kind, id, name, tags, notes: text, createdAt, method, modelPath, architecture, datasetPath, datasetSha256, seed, metrics, status, runId, parameters };
}

function runEntry(r: IndexedRun): RunEntry {
  const { kind, id, name, tags, notes: text, createdAt, method, modelPath, architecture, datasetPath, datasetSha256, seed, metrics, status, step, totalSteps, endedAt } = r;
  return { kind, id, name, tags, notes: text, createdAt, method, modelPath, architecture, datasetPath, datasetSha256, seed, metrics, status, step, totalSteps, endedAt };
}

/** Formats an entry can be exported to; an unfinished run has none. */
function formatsOf(home: string, id: string): ExportFormat[] {
  try {
    return [...exportFormatsFor(home, id).formats];
  } catch {
    return [];
  }
}

export const adaptersHandlers: AdaptersHandlers = {
  'adapters.list': async (req, ctx) => {
    const { kinds, ...filter } = req;
    const home = ctx.options.home;
    const entries: RegistryEntry[] = [];
    if (kinds.includes('adapter')) entries.push(...(await listAdapters(home, filter)).adapters.map(adapterEntry));
    if (kinds.includes('run')) entries.push(...(await listRuns(home, filter)).runs.map(runEntry));
    return { entries };
  },

  'adapters.show': async (req, ctx) => {
    const home = ctx.options.home;
    if (req.kind === 'adapter') {
      const { summary, manifest } = await showAdapter(home, req.id);
      return { entry: adapterEntry(summary), manifest: manifest as unknown as Record<string, unknown>, adapters: [], exportFormats: formatsOf(home, req.id) };
    }
    const details = await showRun(home, req.id);
    return { entry: runEntry(details.summary), manifest: details.manifest, adapters: details.adapters, exportFormats: formatsOf(home, req.id) };
  },

  'adapters.label': async (req, ctx) => {
    const home = ctx.options.home;
    let labels;
    if (req.name !== undefined) labels = await rename(home, req.kind, req.id, req.name);
    if (req.notes !== undefined) labels = await notes(home, req.kind, req.id, req.notes);
    if (req.addTags?.length || req.removeTags?.length) labels = await tag(home, req.kind, req.id, { add: req.addTags, remove: req.removeTags });
    if (!labels) throw new ApiError('invalid_argument', 'nothing to change: give a name, notes or tags', { field: 'name' });
    return labels;
  },

  'adapters.remove': async (req, ctx) => {
    const home = ctx.options.home;
    if (req.kind === 'run') {
      const made = (await listAdapters(home)).adapters.filter((a) => a.runId === req.id).map((a) => `adapter ${a.name} (${a.id})`);
      if (made.length > 0 && !req.force) {
        throw new ApiError('conflict', `run ${req.id} has adapters made from it: ${made.join(', ')}; they keep their own copy, delete anyway to confirm`, { field: 'id' });
      }
      await removeEntry(home, 'run', req.id, req.force);
      return { removed: true, dependents: made };
    }
    await removeEntry(home, 'adapter', req.id, req.force);
    return { removed: true, dependents: [] };
  },

  'adapters.createFromRun': async (req, ctx) => {
    const manifest = await adapterFromRun(ctx.options.home, req.runId, { name: req.name, allowUnfinished: req.allowUnfinished });
    const summary = (await listAdapters(ctx.options.home)).adapters.find((a) => a.id === manifest.id);
    if (!summary) throw new ApiError('internal', `adapter ${manifest.id} was written but is not in the index`);
    return adapterEntry(summary);
  },

  'adapters.export': async (req, ctx) => {
    const outDir = ctx.paths.check(req.outDir, 'outDir');
    // Served and picked folders: an export may go inside one, never replace or swallow one.
    const roots = [...(ctx.options.roots ?? []), ...ctx.paths.allowedRoots()];
    return exportAdapter({ home: ctx.options.home, id: req.id, format: req.format, outDir, force: req.force, roots, quant: req.quant });
  },
};
