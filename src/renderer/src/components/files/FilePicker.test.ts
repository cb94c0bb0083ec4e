// @vitest-environment happy-dom
// The folder browser's "Use this folder" picks the folder shown, never the one being left: while the next
// folder is still being listed it is disabled (a quick click used to import the parent folder instead).
import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: FilePicker } = await import('./FilePicker.vue');

const listing = (path: string, entries: { name: string; path: string; kind: 'dir' | 'file' }[]) => ({ path, parent: path === '/srv' ? null : '/srv', entries, truncated: false });

describe('FilePicker folder selection', () => {
  it('"Use this folder" waits for the folder being opened, then picks it', async () => {
    setActivePinia(createPinia());
    localStorage.clear();
    fake.call('files.roots').mockResolvedValue({ roots: [{ path: '/srv', label: 'srv' }] });
    let finishListing!: (value: unknown) => void;
    fake
      .call('files.list')
      .mockResolvedValueOnce(listing('/srv', [{ name: 'model', path: '/srv/model', kind: 'dir' }]))
      .mockImplementationOnce(() => new Promise((resolve) => (finishListing = resolve)));
    const wrapper = mount(FilePicker, { props: { select: 'any', testid: 'picker' } });
    await flushPromises();
    const useFolder = () => wrapper.find('[data-testid="picker-use-folder"]');
    expect(useFolder().attributes('disabled')).toBeUndefined();

    await wrapper.find('[data-name="model"]').trigger('click');
    await flushPromises();
    // /srv/model is still being listed: a click now must not pick /srv.
    expect(useFolder().attributes('disabled')).toBeDefined();
    await useFolder().trigger('click');
    expect(wrapper.emitted('pick')).toBeUndefined();

    finishListing(listing('/srv/model', [{ name: 'config.json', path: '/srv/model/config.json', kind: 'file' }]));
    await flushPromises();
    expect(useFolder().attributes('disabled')).toBeUndefined();
    await useFolder().trigger('click');
    expect(wrapper.emitted('pick')).toEqual([['/srv/model']]);
  });
});
