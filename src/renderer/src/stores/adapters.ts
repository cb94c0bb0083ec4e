// The adapter registry as the Adapters view shows it: adapters and runs with filters and sorts, the chosen
// entry's provenance, labels, deletion (dependents named), saving a run as an adapter, and export.
import { defineStore } from 'pinia';
import { ref, watch } from 'vue';
import type { RegistryEntry } from '@shared/contract';
import type { ExportFormatName } from '@shared/contract/calls/adapters';
import { api } from '../api';
import { errorMessage } from '../api/errors';

export interface RegistryFilter {
  model: string;
  dataset: string;
  method: string;
  status: string;
  tag: string;
  sort: string;
  order: 'asc' | 'desc';
}

type Details = Awaited<ReturnType<typeof api.adapters.show>>;
type ExportResult = Awaited<ReturnType<typeof api.adapters.export>>;

const FILTER_KEY = 'prefixlab-adapter-filter';
const EXPORT_FOLDER_KEY = 'prefixlab-last-export-folder';

/** The folder a path lies in ('/a/b' → '/a', '/b' → '/', 'C:\\b' → 'C:\\'); null when it has none. */
export function parentFolder(path: string): string | null {
  const trimmed = path.replace(/(?<=.)[\\/]+$/, '');
  const cut = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  if (cut < 0) return null;
  const parent = trimmed.slice(0, cut);
  return parent === '' || parent.endsWith(':') ? trimmed.slice(0, cut + 1) : parent;
}

export const useAdaptersStore = defineStore('adapters', () => {
  const entries = ref<RegistryEntry[]>([]);
  const isLoaded = ref(false);
  const error = ref<string | null>(null);
  const filter = ref<RegistryFilter>({
    model: '',
    dataset: '',
    method: '',
    status: '',
    tag: '',
    sort: 'created',
    order: 'desc',
    ...JSON.parse(localStorage.getItem(FILTER_KEY) ?? '{}'),
  });
  const selected = ref<{ kind: 'adapter' | 'run'; id: string } | null>(null);
  const details = ref<Details | null>(null);
  const detailsError = ref<string | null>(null);
  const isExporting = ref(false);
  const exportResult = ref<ExportResult | null>(null);
  const exportError = ref<string | null>(null);
  /** Where the user last exported to (the folder holding the export): the export picker opens there. */
  const lastExportFolder = ref<string | null>(localStorage.getItem(EXPORT_FOLDER_KEY));

  let serial = 0;
  async function refresh(): Promise<void> {
    const mine = ++serial;
    const f = filter.value;
    try {
      const request = {
        ...(f.model ? { model: f.model } : {}),
        ...(f.dataset ? { dataset: f.dataset } : {}),
        ...(f.method ? { method: f.method as 'ptplus' } : {}),
        ...(f.status ? { status: f.status } : {}),
        ...(f.tag ? { tag: f.tag } : {}),
        sort: f.sort,
        order: f.order,
      };
      const reply = await api.adapters.list(request);
      if (mine !== serial) return;
      entries.value = reply.entries;
      isLoaded.value = true;
      error.value = null;
      if (selected.value && !reply.entries.some((e) => e.kind === selected.value?.kind && e.id === selected.value.id)) {
        selected.value = null;
        details.value = null;
      }
    } catch (err) {
      if (mine === serial) error.value = errorMessage(err);
    }
  }
  watch(
    filter,
    () => {
      localStorage.setItem(FILTER_KEY, JSON.stringify(filter.value));
      void refresh();
    },
    { deep: true },
  );

  async function select(entry: { kind: 'adapter' | 'run'; id: string }): Promise<void> {
    selected.value = { kind: entry.kind, id: entry.id };
    exportResult.value = null;
    exportError.value = null;
    try {
      details.value = await api.adapters.show(selected.value);
      detailsError.value = null;
    } catch (err) {
      details.value = null;
      detailsError.value = errorMessage(err);
    }
  }

  async function reloadSelected(): Promise<void> {
    await refresh();
    if (selected.value) await select(selected.value);
  }

  async function label(change: { name?: string; notes?: string; addTags?: string[]; removeTags?: string[] }): Promise<void> {
    if (!selected.value) return;
    try {
      await api.adapters.label({ ...selected.value, ...change });
      await reloadSelected();
    } catch (err) {
      detailsError.value = errorMessage(err);
    }
  }

  /** null when deleted; else the reason (with dependents named) so the view can offer "delete anyway". */
  async function remove(force: boolean): Promise<string | null> {
    if (!selected.value) return null;
    try {
      await api.adapters.remove({ ...selected.value, force });
      selected.value = null;
      details.value = null;
      await refresh();
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  }

  async function saveRunAsAdapter(name?: string): Promise<void> {
    if (selected.value?.kind !== 'run') return;
    try {
      const adapter = await api.adapters.createFromRun({ runId: selected.value.id, ...(name ? { name } : {}) });
      await refresh();
      await select({ kind: 'adapter', id: adapter.id });
    } catch (err) {
      detailsError.value = errorMessage(err);
    }
  }

  async function exportSelected(format: ExportFormatName, outDir: string, force: boolean): Promise<void> {
    if (!selected.value) return;
    isExporting.value = true;
    exportError.value = null;
    exportResult.value = null;
    try {
      exportResult.value = await api.adapters.export({ id: selected.value.id, format, outDir, force });
      lastExportFolder.value = parentFolder(exportResult.value.outDir);
      if (lastExportFolder.value) localStorage.setItem(EXPORT_FOLDER_KEY, lastExportFolder.value);
    } catch (err) {
      exportError.value = errorMessage(err);
    } finally {
      isExporting.value = false;
    }
  }

  return {
    entries,
    isLoaded,
    error,
    filter,
    selected,
    details,
    detailsError,
    isExporting,
    exportResult,
    exportError,
    lastExportFolder,
    refresh,
    select,
    label,
    remove,
    saveRunAsAdapter,
    exportSelected,
  };
});
