// Training runs as the Train & Compare view follows them: comparisons, the queue, run manifests and every
// run's curve points. On mount it reads the whole state and subscribes to progress, so a reload reattaches
// to runs still training in main. It also keeps the settings of the comparison being set up (remembered across
// reloads; each method's own options are the methods store's).
import { defineStore } from 'pinia';
import { computed, ref, shallowRef, triggerRef, watch } from 'vue';
import type { Comparison, QueueItem, RunDiagnostics, RunSummary, TrainProgress } from '@shared/contract';
import { api } from '../api';
import { errorMessage } from '../api/errors';

const SELECTED_KEY = 'prefixlab-selected-comparison';
const SETTINGS_KEY = 'prefixlab-compare-settings';
const ACTIVE: QueueItem['status'][] = ['queued', 'starting', 'running'];

export type StartRequest = Parameters<typeof api.training.start>[0];

/** What every run of a new comparison shares, as the setup form edits it. */
export interface CompareSettings {
  modelId: string;
  datasetId: string;
  splitName: string;
  /** Another imported dataset scored as every run's test file (training.start testDatasetId); '' = none. */
  testDatasetId: string;
  /** The engine that trains: this app's TensorFlow.js, or the torch engine (PyTorch + PEFT; Settings shows its Python). */
  engine: 'tfjs' | 'torch';
  budget: 'steps' | 'tokens';
  steps: number;
  budgetTokens: number;
  seeds: string;
  evalEvery: number | null;
  batchSize: number;
  maxLength: number;
  maxEvalExamples: number;
  checkpointEvery: number;
}

function savedSettings(): CompareSettings {
  return {
    modelId: '',
    datasetId: '',
    splitName: '',
    testDatasetId: '',
    engine: 'tfjs',
    budget: 'steps',
    steps: 100,
    budgetTokens: 50_000,
    seeds: '0',
    evalEvery: null,
    batchSize: 8,
    maxLength: 128,
    maxEvalExamples: 128,
    checkpointEvery: 25,
    ...JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}'),
  };
}

export const useRunsStore = defineStore('runs', () => {
  const comparisons = ref<Comparison[]>([]);
  const queue = ref<QueueItem[]>([]);
  const runs = ref<RunSummary[]>([]);
  /** runId → progress points in step order (shallow: thousands of points must not be made reactive). */
  const metrics = shallowRef(new Map<string, TrainProgress[]>());
  const logs = ref<{ itemId: string; message: string }[]>([]);
  const isLoaded = ref(false);
  const error = ref<string | null>(null);
  const isStarting = ref(false);
  /** The comparison this window launched last (the view reveals its runs when it changes). */
  const launchedComparisonId = ref<string | null>(null);
  const selectedComparisonId = ref<string | null>(localStorage.getItem(SELECTED_KEY));
  const compareSettings = ref<CompareSettings>(savedSettings());
  watch(compareSettings, () => localStorage.setItem(SETTINGS_KEY, JSON.stringify(compareSettings.value)), { deep: true });

  const selectedComparison = computed(() => comparisons.value.find((c) => c.comparisonId === selectedComparisonId.value) ?? comparisons.value[0] ?? null);
  /** Queue items of the selected comparison, with their live state. */
  const selectedItems = computed(() => {
    const c = selectedComparison.value;
    if (!c) return [];
    return queue.value.filter((i) => i.comparisonId === c.comparisonId);
  });
  /** Runs of the selected comparison (one per started item; a resume shares its run). */
  const selectedRuns = computed(() => {
    const ids = new Set(selectedItems.value.map((i) => i.runId).filter((id): id is string => id !== null));
    return runs.value.filter((r) => ids.has(r.runId));
  });
  const isBusy = computed(() => queue.value.some((i) => ACTIVE.includes(i.status)));

  function selectComparison(id: string): void {
    selectedComparisonId.value = id;
    localStorage.setItem(SELECTED_KEY, id);
    void loadMissingMetrics();
  }

  async function refresh(): Promise<void> {
    try {
      const state = await api.training.state();
      comparisons.value = state.comparisons;
      queue.value = state.queue;
      runs.value = state.runs;
      isLoaded.value = true;
      error.value = null;
      await loadMissingMetrics();
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  /** Curves of the selected comparison's runs that this window has not read yet. */
  async function loadMissingMetrics(): Promise<void> {
    const wanted = selectedItems.value.map((i) => i.runId).filter((id): id is string => id !== null && !metrics.value.has(id));
    for (const runId of wanted) {
      try {
        const { points } = await api.training.metrics({ runId });
        // Live points may have arrived while reading: keep the longer history.
        const live = metrics.value.get(runId) ?? [];
        const merged = [...points, ...live.filter((p) => p.step > (points[points.length - 1]?.step ?? 0))];
        metrics.value.set(runId, merged);
        triggerRef(metrics);
      } catch {
        // a run deleted meanwhile has no curves
      }
    }
  }

  function onProgress(point: TrainProgress): void {
    const list = metrics.value.get(point.runId) ?? [];
    // A resumed run starts again after its checkpoint: drop points past it.
    const kept = list.length && list[list.length - 1].step >= point.step ? list.filter((p) => p.step < point.step) : list;
    kept.push(point);
    metrics.value.set(point.runId, kept);
    triggerRef(metrics);
    const run = runs.value.find((r) => r.runId === point.runId);
    if (run) run.step = point.step;
  }

  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  function onQueue(items: QueueItem[]): void {
    const before = new Map(queue.value.map((i) => [i.itemId, `${i.status}:${i.runId}`]));
    queue.value = items;
    // A run started or ended: its manifest changed.
    if (items.some((i) => before.get(i.itemId) !== `${i.status}:${i.runId}`)) {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => void refresh(), 100);
    }
  }

  const unsubscribers: (() => void)[] = [];
  function setUp(): void {
    if (unsubscribers.length === 0) {
      unsubscribers.push(
        api.on('training.progress', onProgress),
        api.on('training.queue', ({ items }) => onQueue(items)),
        api.on('training.log', ({ itemId, message }) => logs.value.push({ itemId, message })),
      );
    }
    void refresh();
  }
  function tearDown(): void {
    while (unsubscribers.length) unsubscribers.pop()?.();
  }

  async function start(request: StartRequest): Promise<Comparison | null> {
    isStarting.value = true;
    try {
      const comparison = await api.training.start(request);
      selectComparison(comparison.comparisonId);
      await refresh();
      error.value = null;
      launchedComparisonId.value = comparison.comparisonId;
      return comparison;
    } catch (err) {
      error.value = errorMessage(err);
      return null;
    } finally {
      isStarting.value = false;
    }
  }

  async function cancel(itemId: string): Promise<void> {
    try {
      await api.training.cancel({ itemId });
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  async function resume(runId: string): Promise<void> {
    try {
      await api.training.resume({ runId });
      await refresh();
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  async function removeRun(runId: string, force = false): Promise<string | null> {
    try {
      await api.training.removeRun({ runId, force });
      metrics.value.delete(runId);
      await refresh();
      return null;
    } catch (err) {
      return errorMessage(err);
    }
  }

  /** Greedy continuations of each prompt by the base model and by the run's adapter (a run id) or a registry adapter ({ adapterId }); throws on failure. */
  async function generate(source: string | { adapterId: string }, prompts: string[], maxNewTokens: number): Promise<{ prompt: string; base: string; tuned: string }[]> {
    const from = typeof source === 'string' ? { runId: source } : { adapterId: source.adapterId };
    return (await api.training.generate({ ...from, prompts, maxNewTokens })).rows;
  }

  /** The prefix-attention / memory-ratio diagnostic of a run on `texts` eval prompts; throws on failure. */
  async function diagnostics(runId: string, texts: number): Promise<RunDiagnostics> {
    return api.training.diagnostics({ runId, texts });
  }

  /** The latest point of a run (live progress). */
  function latest(runId: string | null): TrainProgress | null {
    if (!runId) return null;
    const list = metrics.value.get(runId);
    return list?.[list.length - 1] ?? null;
  }

  return {
    comparisons,
    queue,
    runs,
    metrics,
    logs,
    isLoaded,
    error,
    isStarting,
    launchedComparisonId,
    selectedComparisonId,
    selectedComparison,
    selectedItems,
    selectedRuns,
    isBusy,
    compareSettings,
    selectComparison,
    refresh,
    loadMissingMetrics,
    setUp,
    tearDown,
    start,
    cancel,
    resume,
    removeRun,
    generate,
    diagnostics,
    latest,
  };
});
