// Imported models and the generation playground: list/import/remove, the selected model's card, and one
// streamed generation at a time (tokens arrive as models.token events, filtered by our generation id).
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { GenerationResult, ModelEntry, Sampling } from '@shared/contract';
import { api } from '../api';
import { errorMessage } from '../api/errors';
import { randomId } from '../lib/format';

const SELECTED_KEY = 'prefixlab-selected-model';

export const useModelsStore = defineStore('models', () => {
  const models = ref<ModelEntry[]>([]);
  const isLoaded = ref(false);
  const error = ref<string | null>(null);
  const isImporting = ref(false);
  const selectedId = ref<string | null>(localStorage.getItem(SELECTED_KEY));
  const selected = computed(() => models.value.find((m) => m.id === selectedId.value) ?? models.value[0] ?? null);

  async function refresh(): Promise<void> {
    try {
      models.value = (await api.models.list()).models;
      isLoaded.value = true;
      error.value = null;
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  function select(id: string): void {
    selectedId.value = id;
    localStorage.setItem(SELECTED_KEY, id);
  }

  async function importModel(path: string, name?: string): Promise<ModelEntry | null> {
    isImporting.value = true;
    try {
      const entry = await api.models.import({ path, name });
      await refresh();
      select(entry.id);
      error.value = null;
      return entry;
    } catch (err) {
      error.value = errorMessage(err);
      return null;
    } finally {
      isImporting.value = false;
    }
  }

  async function remove(id: string): Promise<void> {
    try {
      await api.models.remove({ id });
      if (selectedId.value === id) selectedId.value = null;
      await refresh();
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  // ---- generation playground ----

  const prompt = ref('Once upon a time');
  const sampling = ref<Required<Sampling>>({ maxNewTokens: 64, temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1, seed: 0 });
  const output = ref('');
  const generationId = ref<string | null>(null);
  const tokensPerSecond = ref(0);
  const tokenCount = ref(0);
  const lastResult = ref<GenerationResult | null>(null);
  const generationError = ref<string | null>(null);
  const isGenerating = computed(() => generationId.value !== null);

  let unsubscribe: (() => void) | undefined;
  function setUp(): void {
    unsubscribe ??= api.on('models.token', (token) => {
      if (token.generationId !== generationId.value) return;
      output.value += token.text;
      tokenCount.value = token.index + 1;
      tokensPerSecond.value = token.tokensPerSecond;
    });
    void refresh();
  }
  function tearDown(): void {
    unsubscribe?.();
    unsubscribe = undefined;
  }

  async function generate(): Promise<void> {
    const model = selected.value;
    if (!model || isGenerating.value) return;
    const id = randomId('gen');
    generationId.value = id;
    output.value = '';
    tokenCount.value = 0;
    tokensPerSecond.value = 0;
    lastResult.value = null;
    generationError.value = null;
    try {
      const result = await api.models.generate({ modelId: model.id, prompt: prompt.value, generationId: id, ...sampling.value });
      // The final text is authoritative (stop strings cut, partial characters completed).
      output.value = result.text;
      tokenCount.value = result.generatedTokens;
      tokensPerSecond.value = result.tokensPerSecond;
      lastResult.value = result;
    } catch (err) {
      generationError.value = errorMessage(err);
    } finally {
      generationId.value = null;
    }
  }

  async function cancelGeneration(): Promise<void> {
    if (!generationId.value) return;
    try {
      await api.models.cancelGeneration({ generationId: generationId.value });
    } catch (err) {
      generationError.value = errorMessage(err);
    }
  }

  return {
    models,
    isLoaded,
    error,
    isImporting,
    selectedId,
    selected,
    refresh,
    select,
    importModel,
    remove,
    prompt,
    sampling,
    output,
    tokensPerSecond,
    tokenCount,
    lastResult,
    generationError,
    isGenerating,
    generate,
    cancelGeneration,
    setUp,
    tearDown,
  };
});
