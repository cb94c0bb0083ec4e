// @vitest-environment happy-dom
// The empty Models view tells a new user how to add a model: headless, which folders the browser can show
// and how to serve another (--root); on the desktop, that the system dialog opens.
import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../testing/fake-api';

const fake = createFakeApi();
vi.mock('../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: ModelsView } = await import('./ModelsView.vue');

describe('ModelsView with no models', () => {
  it('headless: names the served folders and how to add one', async () => {
    setActivePinia(createPinia());
    const roots = [
      { path: '/home/ada/.prefixlab', label: '.prefixlab (app data)' },
      { path: '/home/ada', label: 'ada' },
    ];
    fake.call('models.list').mockResolvedValue({ models: [] });
    fake.call('models.discover').mockResolvedValue({ models: [], warnings: [] });
    fake.call('files.roots').mockResolvedValue({ roots });
    fake.call('files.list').mockResolvedValue({ path: '/home/ada', parent: null, entries: [], truncated: false });
    const wrapper = mount(ModelsView);
    await flushPromises();
    expect(wrapper.find('.empty-state h2').text()).toBe('No models yet');
    expect(wrapper.find('[data-testid="no-models-how"]').text()).toBe('Pick its folder in the folder browser under “Import a model”.');
    expect(wrapper.find('[data-testid="no-models-roots"]').text()).toBe('In headless mode the browser shows only the folders served: /home/ada/.prefixlab, /home/ada.');
    expect(wrapper.find('[data-testid="no-models-add-root"]').text()).toBe('To add another, start it with npm start -- --root DIR or prefixlab serve --root DIR (repeatable).');
    wrapper.unmount();
  });

  it('on the desktop: points at the system file dialog, with no word of served folders', async () => {
    vi.resetModules();
    vi.doMock('../api', () => ({ api: fake.api, transportName: 'electron' }));
    const { default: NoModelsHelp } = await import('../components/models/NoModelsHelp.vue');
    setActivePinia(createPinia());
    const wrapper = mount(NoModelsHelp);
    await flushPromises();
    expect(wrapper.find('[data-testid="no-models-how"]').text()).toBe('Choose it under “Import a model”: the system’s file dialog opens.');
    expect(wrapper.find('[data-testid="no-models-roots"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="no-models-add-root"]').exists()).toBe(false);
  });
});
