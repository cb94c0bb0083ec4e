// Imported models and the generation playground: list/import/remove, the selected model's card, the models
// found on this computer (models.discover, imported with one click), and one streamed generation at a time
// (tokens arrive as models.token events, filtered by our generation id), as a continuation or a chat turn, by the
// base model or with an adapter from the registry attached.
import { defineStore } from 'pinia';
import { computed, ref, toRaw, watch } from 'vue';
import type { ChatMessage, DiscoveredModel, GenerationResult, ModelEntry, RegistryEntry, Sampling } from '@shared/contract';
import { api } from '../api';
import { errorMessage } from '../api/errors';
import { randomId } from '../lib/format';

const SELECTED_KEY = 'prefixlab-selected-model';
/** Folders the user added to discovery (besides the tools' stores), remembered across reloads. */
const FOLDERS_KEY = 'prefixlab-discovery-folders';

/** What an adapter choice is called in the playground and in base-vs-tuned: its name, and what it is. */
export function adapterLabel(entry: RegistryEntry): string {
  return `${entry.name} (${entry.kind === 'run' ? 'run' : 'adapter'}, ${entry.method})`;
}

/**
 * The registry entries an adapter can be picked from for the model at `model` (an imported model's id or
 * path): every adapter, and every finished run, recorded as made on that model. Runs still going, failed or
 * cancelled are left out (their last checkpoint is not a result), and so is everything made on other models.
 */
export async function adapterChoicesFor(model: string): Promise<RegistryEntry[]> {
  const reply = await api.adapters.list({ model, kinds: ['adapter', 'run'] });
  return (reply.entries ?? []).filter((e) => e.kind === 'adapter' || e.status === 'finished');
}

function storedFolders(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(FOLDERS_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((f): f is string => typeof f === 'string') : [];
  } catch {
    return [];
  }
}

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
    // A conversation belongs to the model it was held with.
    if (id !== selected.value?.id) clearChat();
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
      found.value = found.value.map((m) => (m.importedId === id ? { ...m, importedId: undefined } : m));
    } catch (err) {
      error.value = errorMessage(err);
    }
  }

  // ---- found on this computer ----

  const found = ref<DiscoveredModel[]>([]);
  const foundWarnings = ref<string[]>([]);
  /** Whether a scan has finished since the view opened (the list is empty before, not "nothing found"). */
  const hasScanned = ref(false);
  const discoveryId = ref<string | null>(null);
  const isDiscovering = computed(() => discoveryId.value !== null);
  const discoveryError = ref<string | null>(null);
  const extraFolders = ref<string[]>(storedFolders());
  /** The found model being imported, and the last import that failed (shown on its row). */
  const importingPath = ref<string | null>(null);
  const foundImportError = ref<{ path: string; message: string } | null>(null);

  async function discover(): Promise<void> {
    if (isDiscovering.value) return;
    const id = randomId('scan');
    discoveryId.value = id;
    discoveryError.value = null;
    try {
      const result = await api.models.discover({ folders: extraFolders.value, discoveryId: id });
      found.value = result.models;
      foundWarnings.value = result.warnings;
      hasScanned.value = true;
    } catch (err) {
      discoveryError.value = errorMessage(err);
    } finally {
      discoveryId.value = null;
    }
  }

  async function cancelDiscovery(): Promise<void> {
    if (!discoveryId.value) return;
    try {
      await api.models.cancelDiscovery({ discoveryId: discoveryId.value });
    } catch (err) {
      discoveryError.value = errorMessage(err);
    }
  }

  function saveFolders(folders: string[]): void {
    extraFolders.value = folders;
    localStorage.setItem(FOLDERS_KEY, JSON.stringify(folders));
  }

  async function addFolder(path: string): Promise<void> {
    if (!extraFolders.value.includes(path)) saveFolders([...extraFolders.value, path]);
    await discover();
  }

  async function removeFolder(path: string): Promise<void> {
    saveFolders(extraFolders.value.filter((f) => f !== path));
    await discover();
  }

  /** One click: registers the found model as the import panel does (read in place, never copied), under the store's name for it. */
  async function importFound(model: DiscoveredModel): Promise<ModelEntry | null> {
    if (model.error || importingPath.value) return null;
    importingPath.value = model.path;
    foundImportError.value = null;
    try {
      const entry = await importModel(model.path, model.name.slice(0, 120));
      if (!entry) {
        foundImportError.value = { path: model.path, message: error.value ?? 'the import failed' };
        error.value = null; // shown on the row, not under the import panel
        return null;
      }
      found.value = found.value.map((m) => (m.path === model.path ? { ...m, importedId: entry.id } : m));
      return entry;
    } finally {
      importingPath.value = null;
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

  // The adapter the playground generates with ('' = the base model), among those made on the selected model.
  const adapterId = ref('');
  const adapterChoices = ref<RegistryEntry[]>([]);
  const adapterChoicesError = ref<string | null>(null);
  const chosenAdapter = computed(() => adapterChoices.value.find((e) => e.id === adapterId.value) ?? null);
  /** Which adapter produced the output shown ('base model' or its label), set when a generation starts. */
  const outputBy = ref<string | null>(null);
  /** The same for each assistant turn of the conversation, by its index. */
  const answeredBy = ref<Record<number, string>>({});

  let choicesSerial = 0;
  async function refreshAdapterChoices(): Promise<void> {
    const model = selected.value;
    const mine = ++choicesSerial;
    if (!model) {
      adapterChoices.value = [];
      adapterId.value = '';
      return;
    }
    try {
      const entries = await adapterChoicesFor(model.id);
      if (mine !== choicesSerial) return;
      adapterChoices.value = entries;
      adapterChoicesError.value = null;
    } catch (err) {
      if (mine !== choicesSerial) return;
      adapterChoices.value = [];
      adapterChoicesError.value = errorMessage(err);
    }
    // An adapter of the previous model (or one removed since) is not offered: back to the base.
    if (!adapterChoices.value.some((e) => e.id === adapterId.value)) adapterId.value = '';
  }
  watch(
    () => selected.value?.id,
    () => void refreshAdapterChoices(),
  );

  // Chat mode: the conversation so far; each send appends the user's turn, then the model's answer.
  const chatMode = ref(false);
  const conversation = ref<ChatMessage[]>([]);
  const chatInput = ref('');
  /** The chat toggle is offered when the selected model's card says it has a chat template. */
  const canChat = computed(() => selected.value?.card.hasTokenizer === true && selected.value.card.hasChatTemplate === true);

  let unsubscribe: (() => void) | undefined;
  function setUp(): void {
    unsubscribe ??= api.on('models.token', (token) => {
      if (token.generationId !== generationId.value) return;
      output.value += token.text;
      tokenCount.value = token.index + 1;
      tokensPerSecond.value = token.tokensPerSecond;
    });
    void refresh().then(refreshAdapterChoices);
    if (!hasScanned.value) void discover();
  }
  function tearDown(): void {
    unsubscribe?.();
    unsubscribe = undefined;
  }

  /** Streams one generation of the selected model; its final result, or null when it failed (the reason in generationError). */
  async function runGeneration(input: { prompt: string } | { messages: ChatMessage[] }): Promise<GenerationResult | null> {
    const model = selected.value;
    if (!model || isGenerating.value) return null;
    const id = randomId('gen');
    generationId.value = id;
    output.value = '';
    tokenCount.value = 0;
    tokensPerSecond.value = 0;
    lastResult.value = null;
    generationError.value = null;
    const adapter = chosenAdapter.value;
    outputBy.value = adapter ? adapterLabel(adapter) : 'base model';
    try {
      const result = await api.models.generate({ modelId: model.id, ...input, generationId: id, ...sampling.value, ...(adapter ? { adapterId: adapter.id } : {}) });
      // The final text is authoritative (stop strings cut, partial characters completed).
      output.value = result.text;
      tokenCount.value = result.generatedTokens;
      tokensPerSecond.value = result.tokensPerSecond;
      lastResult.value = result;
      return result;
    } catch (err) {
      generationError.value = errorMessage(err);
      return null;
    } finally {
      generationId.value = null;
    }
  }

  async function generate(): Promise<void> {
    await runGeneration({ prompt: prompt.value });
  }

  /** Sends the typed message as the user's turn; the answer joins the conversation (a failed turn is taken back, its text kept in the box). */
  async function sendChat(): Promise<void> {
    const content = chatInput.value.trim();
    if (!content || isGenerating.value || !selected.value) return;
    const turn: ChatMessage = { role: 'user', content };
    conversation.value = [...conversation.value, turn];
    chatInput.value = '';
    const result = await runGeneration({ messages: conversation.value });
    if (result) {
      answeredBy.value = { ...answeredBy.value, [conversation.value.length]: outputBy.value ?? 'base model' };
      conversation.value = [...conversation.value, { role: 'assistant', content: result.text }];
      output.value = '';
    } else {
      // The array holds reactive proxies of its items: compare the raw turn.
      conversation.value = conversation.value.filter((m) => toRaw(m) !== turn);
      chatInput.value = content;
    }
  }

  function clearChat(): void {
    conversation.value = [];
    answeredBy.value = {};
    output.value = '';
    lastResult.value = null;
    generationError.value = null;
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
    chatMode,
    conversation,
    chatInput,
    canChat,
    adapterId,
    adapterChoices,
    adapterChoicesError,
    outputBy,
    answeredBy,
    refreshAdapterChoices,
    sendChat,
    clearChat,
    found,
    foundWarnings,
    hasScanned,
    isDiscovering,
    discoveryError,
    extraFolders,
    importingPath,
    foundImportError,
    discover,
    cancelDiscovery,
    addFolder,
    removeFolder,
    importFound,
    setUp,
    tearDown,
  };
});
