// Datasets: the imported ones (with splits), and the draft of an import in progress — the picked file, the
// options that correct detection (format, task, mapping, label names, template), the full inspect (problems,
// labels, token lengths) and a fast live preview while the template is edited.
import { defineStore } from 'pinia';
import { computed, ref, watch } from 'vue';
import type { DatasetEntry, DatasetFormat, FieldMapping, InspectReply, PromptTemplate, SplitSummary, TaskKind, TokenPreview } from '@shared/contract';
import { api } from '../api';
import { errorMessage } from '../api/errors';
import { randomId } from '../lib/format';

export interface DraftOptions {
  format?: DatasetFormat;
  header?: boolean;
  task?: TaskKind;
  map?: FieldMapping;
  labelNames?: Record<string, string>;
  template?: PromptTemplate;
}

export interface SplitChoice {
  method: 'stratified' | 'random' | 'kshot';
  seed: number;
  evalFraction: number;
  k: number;
}

const SELECTED_KEY = 'prefixlab-selected-dataset';
const DRAFT_KEY = 'prefixlab-dataset-draft';

export const useDatasetsStore = defineStore('datasets', () => {
  const datasets = ref<DatasetEntry[]>([]);
  const isLoaded = ref(false);
  const error = ref<string | null>(null);
  const selectedId = ref<string | null>(localStorage.getItem(SELECTED_KEY));
  const selected = computed(() => datasets.value.find((d) => d.id === selectedId.value) ?? null);

  async function refresh(): Promise<void> {
    try {
      datasets.value = (await api.datasets.list()).datasets;
      isLoaded.value = true;
      error.value = null;
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  function select(id: string | null): void {
    selectedId.value = id;
    if (id) localStorage.setItem(SELECTED_KEY, id);
    else localStorage.removeItem(SELECTED_KEY);
  }

  // ---- the import draft ----

  const file = ref<string | null>(null);
  const options = ref<DraftOptions>({});
  /** Imported model whose tokenizer measures token lengths and previews tokens. */
  const tokenizerModelId = ref<string | null>(null);
  const inspection = ref<InspectReply | null>(null);
  const preview = ref<InspectReply | null>(null);
  const isInspecting = ref(false);
  const progress = ref<{ bytesRead: number; totalBytes: number; rows: number } | null>(null);
  const inspectError = ref<string | null>(null);
  const previewError = ref<string | null>(null);
  const split = ref<SplitChoice>({ method: 'stratified', seed: 0, evalFraction: 0.1, k: 16 });
  const name = ref('');
  const excludeInvalid = ref(false);
  const isImporting = ref(false);
  const importError = ref<string | null>(null);
  let inspectJob: string | null = null;
  let inspectSerial = 0;
  let previewSerial = 0;

  // The draft survives a reload: file + corrections, not the results (they are recomputed).
  const saved = localStorage.getItem(DRAFT_KEY);
  if (saved) {
    try {
      const parsed = JSON.parse(saved) as { file: string; options: DraftOptions; tokenizerModelId: string | null; split: SplitChoice; name: string };
      file.value = parsed.file;
      options.value = parsed.options ?? {};
      tokenizerModelId.value = parsed.tokenizerModelId ?? null;
      split.value = { ...split.value, ...parsed.split };
      name.value = parsed.name ?? '';
    } catch {
      localStorage.removeItem(DRAFT_KEY);
    }
  }
  watch(
    [file, options, tokenizerModelId, split, name],
    () => {
      if (file.value) {
        const draft = { file: file.value, options: options.value, tokenizerModelId: tokenizerModelId.value, split: split.value, name: name.value };
        localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
      } else localStorage.removeItem(DRAFT_KEY);
    },
    { deep: true },
  );

  function readRequest(): Record<string, unknown> {
    const o = options.value;
    const request: Record<string, unknown> = { file: file.value };
    if (o.format) request.format = o.format;
    if (o.header !== undefined) request.header = o.header;
    if (o.task) request.task = o.task;
    if (o.map && Object.keys(o.map).length > 0) request.map = o.map;
    if (o.labelNames && Object.keys(o.labelNames).length > 0) request.labelNames = o.labelNames;
    if (o.template) request.template = o.template;
    return request;
  }

  function splitRequest(): Record<string, unknown> {
    const s = split.value;
    return s.method === 'kshot' ? { method: 'kshot', seed: s.seed, k: s.k, evalFraction: s.evalFraction } : { method: s.method, seed: s.seed, evalFraction: s.evalFraction };
  }

  let unsubscribe: (() => void) | undefined;
  function setUp(): void {
    unsubscribe ??= api.on('datasets.progress', (p) => {
      if (p.jobId === inspectJob) progress.value = { bytesRead: p.bytesRead, totalBytes: p.totalBytes, rows: p.rows };
    });
    void refresh();
    if (file.value && !inspection.value) void inspect();
  }
  function tearDown(): void {
    unsubscribe?.();
    unsubscribe = undefined;
  }

  async function openFile(path: string): Promise<void> {
    file.value = path;
    options.value = {};
    inspection.value = null;
    preview.value = null;
    importError.value = null;
    name.value = path.split(/[\\/]/).pop() ?? '';
    select(null);
    await inspect();
  }

  function closeDraft(): void {
    void cancelInspect();
    file.value = null;
    inspection.value = null;
    preview.value = null;
    options.value = {};
  }

  /** The whole file: every problem, labels, token lengths. Supersedes any inspect still running. */
  async function inspect(): Promise<void> {
    if (!file.value) return;
    await cancelInspect();
    const serial = ++inspectSerial;
    const jobId = randomId('job');
    inspectJob = jobId;
    isInspecting.value = true;
    progress.value = null;
    try {
      const request = { ...readRequest(), split: splitRequest(), jobId, previewRows: 20, ...(tokenizerModelId.value ? { modelId: tokenizerModelId.value } : {}) };
      const result = await api.datasets.inspect(request as Parameters<typeof api.datasets.inspect>[0]);
      if (serial !== inspectSerial) return;
      inspection.value = result;
      preview.value = null;
      inspectError.value = null;
    } catch (err) {
      if (serial !== inspectSerial) return;
      inspectError.value = errorMessage(err);
    } finally {
      if (serial === inspectSerial) {
        isInspecting.value = false;
        inspectJob = null;
      }
    }
  }

  async function cancelInspect(): Promise<void> {
    const job = inspectJob;
    if (!job) return;
    inspectSerial++;
    inspectJob = null;
    isInspecting.value = false;
    await api.datasets.cancel({ jobId: job }).catch(() => undefined);
  }

  /** The first rows with the current mapping and template: fast, for editing. */
  async function refreshPreview(): Promise<void> {
    if (!file.value) return;
    const serial = ++previewSerial;
    try {
      const result = await api.datasets.preview({ ...readRequest(), rows: 20 } as Parameters<typeof api.datasets.preview>[0]);
      if (serial !== previewSerial) return;
      preview.value = result;
      previewError.value = null;
    } catch (err) {
      if (serial !== previewSerial) return;
      previewError.value = errorMessage(err);
    }
  }

  /** What the editors show: the latest preview when there is one, else the full inspection. */
  const current = computed(() => preview.value ?? inspection.value);
  const template = computed<PromptTemplate | null>(() => options.value.template ?? current.value?.template ?? inspection.value?.template ?? null);

  let previewTimer: ReturnType<typeof setTimeout> | undefined;
  let inspectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Apply a correction: live preview at once, the full check when typing pauses. */
  function setOptions(change: Partial<DraftOptions>): void {
    options.value = { ...options.value, ...change };
    clearTimeout(previewTimer);
    clearTimeout(inspectTimer);
    previewTimer = setTimeout(() => void refreshPreview(), 150);
    inspectTimer = setTimeout(() => void inspect(), 900);
  }

  async function importDraft(): Promise<DatasetEntry | null> {
    if (!file.value) return null;
    isImporting.value = true;
    importError.value = null;
    try {
      const request = {
        ...readRequest(),
        split: splitRequest(),
        excludeInvalid: excludeInvalid.value,
        ...(name.value.trim() ? { name: name.value.trim() } : {}),
        ...(tokenizerModelId.value ? { modelId: tokenizerModelId.value } : {}),
      };
      const entry = await api.datasets.import(request as Parameters<typeof api.datasets.import>[0]);
      await refresh();
      closeDraft();
      select(entry.id);
      return entry;
    } catch (err) {
      importError.value = errorMessage(err);
      return null;
    } finally {
      isImporting.value = false;
    }
  }

  // ---- stored datasets ----

  async function remove(id: string, force = false): Promise<string | null> {
    try {
      await api.datasets.remove({ id, force });
      if (selectedId.value === id) select(null);
      await refresh();
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  }

  async function makeSplit(id: string, splitName: string, choice: SplitChoice): Promise<SplitSummary> {
    const request =
      choice.method === 'kshot'
        ? { method: 'kshot' as const, seed: choice.seed, k: choice.k, evalFraction: choice.evalFraction }
        : { method: choice.method, seed: choice.seed, evalFraction: choice.evalFraction };
    const summary = await api.datasets.makeSplit({ id, name: splitName, split: request });
    await refresh();
    return summary;
  }

  async function previewTokens(modelId: string, example: { prompt: string; target: string; label?: string }): Promise<TokenPreview> {
    return api.datasets.previewTokens({ modelId, prompt: example.prompt, target: example.target, ...(example.label !== undefined ? { label: example.label } : {}) });
  }

  return {
    datasets,
    isLoaded,
    error,
    selectedId,
    selected,
    refresh,
    select,
    remove,
    makeSplit,
    previewTokens,
    file,
    options,
    tokenizerModelId,
    inspection,
    preview,
    current,
    template,
    isInspecting,
    progress,
    inspectError,
    previewError,
    split,
    name,
    excludeInvalid,
    isImporting,
    importError,
    setUp,
    tearDown,
    openFile,
    closeDraft,
    inspect,
    cancelInspect,
    refreshPreview,
    setOptions,
    importDraft,
  };
});
