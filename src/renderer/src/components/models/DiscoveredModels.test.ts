// @vitest-environment happy-dom
// "Found on this computer" in the Models view: the scan runs when the view opens, each model shows its name,
// family, size, quantization and where it was found; a broken one shows its reason and no Import; Import is one
// click that registers the found path under the store's name (then the row says it is imported); a failed
// import shows its reason on its row; Rescan scans again with the folders the user added.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { DiscoveredModel, ModelEntry } from '@shared/contract';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: ModelsView } = await import('../../views/ModelsView.vue');
const { useModelsStore } = await import('../../stores/models');

const HF: DiscoveredModel = {
  name: 'HuggingFaceTB/SmolLM2-135M',
  path: '/home/ada/.cache/huggingface/hub/models--HuggingFaceTB--SmolLM2-135M/snapshots/abc',
  format: 'hf',
  architecture: 'llama',
  parameters: 134_515_008,
  quantization: { BF16: 272 },
  source: 'huggingface',
  sizeBytes: 269_060_552,
};
const OLLAMA: DiscoveredModel = {
  name: 'gemma3:270m',
  path: '/home/ada/.ollama/models/blobs/sha256-aaaa',
  format: 'gguf',
  architecture: 'gemma3',
  parameters: 268_098_176,
  quantization: { Q8_0: 4, F32: 109, Q4_K: 97, Q6_K: 10, Q5_0: 16 },
  source: 'ollama',
  sizeBytes: 253_115_136,
};
const BROKEN: DiscoveredModel = {
  name: 'llama3:8b',
  path: '/home/ada/.ollama/models/manifests/registry.ollama.ai/library/llama3/8b',
  format: 'gguf',
  architecture: null,
  parameters: null,
  quantization: null,
  source: 'ollama',
  sizeBytes: null,
  error: '/home/ada/.ollama/models/manifests/registry.ollama.ai/library/llama3/8b: the model blob blobs/sha256-bbbb this manifest names is missing',
};
const LMSTUDIO: DiscoveredModel = {
  ...OLLAMA,
  name: 'lmstudio-community/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf',
  path: '/home/ada/.lmstudio/models/q.gguf',
  source: 'lmstudio',
  architecture: 'qwen3',
  quantization: { Q8_0: 197, F32: 113 },
};
const FOLDER: DiscoveredModel = { ...HF, name: 'my-model', path: '/data/models/my-model', source: 'folder', importedId: 'my-model-123456' };

function modelEntry(id: string, found: DiscoveredModel): ModelEntry {
  const card = { architecture: 'llama', parameters: 1, layers: 1, hidden: 8, heads: 1, kvHeads: 1, headDim: 8, vocabSize: 8, contextLength: 8 };
  return {
    id,
    name: found.name,
    path: found.path,
    format: found.format,
    card: { ...card, dtype: 'BF16', memoryFloat32Bytes: 4, tiedEmbeddings: true, hasTokenizer: true },
    importedAt: '2025-01-01T00:00:00Z',
  };
}

function rowOf(wrapper: ReturnType<typeof mount>, name: string) {
  const row = wrapper.findAll('[data-testid="found-row"]').find((r) => r.attributes('data-name') === name);
  if (!row) throw new Error(`no row ${name}`);
  return row;
}

beforeEach(() => {
  setActivePinia(createPinia());
  localStorage.clear();
  vi.clearAllMocks();
  fake.call('models.list').mockResolvedValue({ models: [] });
  fake.call('files.roots').mockResolvedValue({ roots: [] });
  fake.call('models.discover').mockResolvedValue({ models: [HF, OLLAMA, BROKEN, LMSTUDIO, FOLDER], warnings: ['/srv/models: folder does not exist'] });
});

describe('Found on this computer', () => {
  it('lists what the scan found: name, family, size, quantization, where; a broken entry with its reason and no Import', async () => {
    const wrapper = mount(ModelsView);
    await flushPromises();
    expect(fake.call('models.discover')).toHaveBeenCalledTimes(1);
    expect(fake.call('models.discover').mock.calls[0][0]).toMatchObject({ folders: [] });

    const hf = rowOf(wrapper, HF.name);
    expect(hf.find('[data-testid="found-family"]').text()).toBe('llama');
    expect(hf.find('[data-testid="found-size"]').text()).toBe('257 MiB');
    expect(hf.find('[data-testid="found-quantization"]').text()).toBe('BF16 ×272');
    expect(hf.find('[data-testid="found-source"]').text()).toBe('Hugging Face cache');
    expect(hf.text()).toContain('135M');
    expect(hf.find('[data-testid="found-import"]').exists()).toBe(true);

    const ollama = rowOf(wrapper, OLLAMA.name);
    expect(ollama.find('[data-testid="found-source"]').text()).toBe('Ollama');
    expect(ollama.find('[data-testid="found-family"]').text()).toBe('gemma3');
    // The three commonest storage types, most first, then an ellipsis for the rest.
    expect(ollama.find('[data-testid="found-quantization"]').text()).toBe('F32 ×109 · Q4_K ×97 · Q5_0 ×16 · …');
    expect(rowOf(wrapper, LMSTUDIO.name).find('[data-testid="found-source"]').text()).toBe('LM Studio');
    expect(rowOf(wrapper, FOLDER.name).find('[data-testid="found-source"]').text()).toBe('Folder');
    // Already imported: no second import, a way to open it.
    expect(rowOf(wrapper, FOLDER.name).find('[data-testid="found-import"]').exists()).toBe(false);
    expect(rowOf(wrapper, FOLDER.name).find('[data-testid="found-open"]').exists()).toBe(true);
    expect(rowOf(wrapper, FOLDER.name).find('[data-testid="found-imported"]').text()).toBe('imported');
    expect(hf.find('[data-testid="found-imported"]').exists()).toBe(false);

    const broken = rowOf(wrapper, BROKEN.name);
    expect(broken.find('[data-testid="found-reason"]').text()).toBe(BROKEN.error);
    expect(broken.find('[data-testid="found-import"]').exists()).toBe(false);
    expect(broken.find('[data-testid="found-family"]').text()).toBe('—');
    expect(wrapper.find('[data-testid="found-warnings"]').text()).toContain('/srv/models: folder does not exist');
  });

  it('Import is one click: the found path under its store name, read in place; the row then says imported and the card opens', async () => {
    const entry = modelEntry('smollm2-135m-a1b2c3', HF);
    fake.call('models.import').mockResolvedValue(entry);
    const wrapper = mount(ModelsView);
    await flushPromises();
    fake.call('models.list').mockResolvedValue({ models: [entry] });
    await rowOf(wrapper, HF.name).find('[data-testid="found-import"]').trigger('click');
    await flushPromises();
    expect(fake.call('models.import')).toHaveBeenCalledTimes(1);
    expect(fake.call('models.import').mock.calls[0][0]).toEqual({ path: HF.path, name: HF.name });
    expect(rowOf(wrapper, HF.name).find('[data-testid="found-import"]').exists()).toBe(false);
    expect(rowOf(wrapper, HF.name).find('[data-testid="found-open"]').exists()).toBe(true);
    expect(rowOf(wrapper, HF.name).find('[data-testid="found-imported"]').exists()).toBe(true);
    expect(useModelsStore().selected?.id).toBe(entry.id);
    expect(wrapper.find('[data-testid="model-card"]').text()).toContain(HF.name);
  });

  it('a failed import shows its reason on its own row, not under the import panel', async () => {
    fake.call('models.import').mockRejectedValue(Object.assign(new Error('config.json: unsupported model_type "mamba"'), { code: 'unsupported' }));
    const wrapper = mount(ModelsView);
    await flushPromises();
    await rowOf(wrapper, OLLAMA.name).find('[data-testid="found-import"]').trigger('click');
    await flushPromises();
    expect(rowOf(wrapper, OLLAMA.name).find('[data-testid="found-import-error"]').text()).toContain('unsupported model_type "mamba"');
    expect(rowOf(wrapper, HF.name).find('[data-testid="found-import-error"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="model-import-error"]').exists()).toBe(false);
    expect(rowOf(wrapper, OLLAMA.name).find('[data-testid="found-import"]').exists()).toBe(true);
  });

  it('Rescan scans again, with the folders the user added (remembered across reloads)', async () => {
    const wrapper = mount(ModelsView);
    await flushPromises();
    await useModelsStore().addFolder('/data/models');
    await flushPromises();
    expect(fake.call('models.discover').mock.calls[1][0]).toMatchObject({ folders: ['/data/models'] });
    expect(wrapper.find('[data-testid="found-folders"]').text()).toContain('/data/models');
    fake.call('models.discover').mockResolvedValue({ models: [HF], warnings: [] });
    await wrapper.find('[data-testid="found-rescan"]').trigger('click');
    await flushPromises();
    expect(fake.call('models.discover')).toHaveBeenCalledTimes(3);
    expect(fake.call('models.discover').mock.calls[2][0]).toMatchObject({ folders: ['/data/models'] });
    expect(wrapper.findAll('[data-testid="found-row"]')).toHaveLength(1);
    expect(JSON.parse(localStorage.getItem('prefixlab-discovery-folders')!)).toEqual(['/data/models']);
  });

  it('a scan that fails says why; an empty one says nothing was found', async () => {
    fake.call('models.discover').mockRejectedValueOnce(Object.assign(new Error('discoverModels took longer than its 120 s limit and was stopped'), { code: 'internal' }));
    const wrapper = mount(ModelsView);
    await flushPromises();
    expect(wrapper.find('[data-testid="found-error"]').text()).toContain('120 s limit');
    fake.call('models.discover').mockResolvedValue({ models: [], warnings: [] });
    await wrapper.find('[data-testid="found-rescan"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="found-error"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="found-none"]').text()).toContain('No models found');
  });
});
