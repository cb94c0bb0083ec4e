// @vitest-environment happy-dom
// The export dialog shows a GGUF export's llama.cpp check and its Ollama command beside the reload parity.
import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: ExportDialog } = await import('./ExportDialog.vue');
const { useAdaptersStore } = await import('../../stores/adapters');

describe('ExportDialog, GGUF LoRA', () => {
  it('offers gguf-lora and shows the llama.cpp check and the Ollama command', async () => {
    setActivePinia(createPinia());
    fake.call('files.roots').mockResolvedValue({ roots: [{ path: '/x', label: 'x' }] });
    fake.call('files.list').mockImplementation(async ({ path }: { path: string }) => ({ path, parent: null, entries: [], truncated: false }));
    const store = useAdaptersStore();
    store.selected = { kind: 'adapter', id: 'a1' };
    const wrapper = mount(ExportDialog, { props: { formats: ['peft', 'gguf-lora'], entryName: 'a' } as never });
    await flushPromises();
    expect(wrapper.find('[data-testid="export-format"]').text()).toContain('GGUF LoRA adapter (llama.cpp, Ollama, LM Studio)');
    store.exportResult = {
      format: 'gguf-lora',
      outDir: '/x/a-gguf-lora',
      files: ['Modelfile', 'adapter.gguf'],
      parity: {
        maxAbsDiff: 1e-6,
        inputs: [[1]],
        ok: true,
        llamaCpp: { runtime: 'llama.cpp', positions: 24, top1Agreement: 23 / 24, maxAbsLogProbDiff: 0.123, thresholds: { minTop1Agreement: 0.9, maxAbsLogProbDiff: 1 }, ok: true },
      },
      ollamaCommand: 'ollama create prefixlab-a1 -f /x/a-gguf-lora/Modelfile',
    };
    await flushPromises();
    const text = wrapper.find('[data-testid="export-result"]').text();
    expect(wrapper.find('[data-testid="export-llamacpp"]').text()).toMatch(
      /Checked by llama\.cpp: same top token at 96% of\s+24 positions, largest log-probability difference\s+0\.123\./,
    );
    expect(text).toContain('Ollama: ollama create prefixlab-a1 -f /x/a-gguf-lora/Modelfile');
  });
});
