// @vitest-environment happy-dom
// The new comparison's shared settings live in the runs store only: defaults, remembered across reloads,
// and edited through the store by the setup form (which keeps no copy of its own).
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { nextTick } from 'vue';
import { createFakeApi } from '../testing/fake-api';

const fake = createFakeApi();
vi.mock('../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { useRunsStore } = await import('./runs');
const { default: CompareSetup } = await import('../components/train/CompareSetup.vue');

describe('compare settings', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    fake.call('models.list').mockResolvedValue({ models: [] });
    fake.call('datasets.list').mockResolvedValue({ datasets: [] });
    fake.call('methods.list').mockResolvedValue({ methods: [], trainer: { defaults: {} } });
  });

  it('start from the defaults and are remembered for the next window', async () => {
    const store = useRunsStore();
    expect(store.compareSettings).toMatchObject({ budget: 'steps', steps: 100, seeds: '0', batchSize: 8, maxLength: 128, evalEvery: null });
    store.compareSettings.steps = 7;
    store.compareSettings.seeds = '1, 2';
    await nextTick();
    setActivePinia(createPinia());
    expect(useRunsStore().compareSettings).toMatchObject({ steps: 7, seeds: '1, 2', batchSize: 8 });
  });

  it('the setup form edits the store', async () => {
    const wrapper = mount(CompareSetup, { global: { stubs: { MethodOptionsForm: true } } });
    await flushPromises();
    await wrapper.find('[data-testid="setup-steps"]').setValue('42');
    await wrapper.find('[data-testid="setup-seeds"]').setValue('3,4');
    expect(useRunsStore().compareSettings).toMatchObject({ steps: 42, seeds: '3,4' });
    useRunsStore().compareSettings.batchSize = 2;
    await nextTick();
    expect((wrapper.find('[data-testid="setup-batch"]').element as HTMLInputElement).value).toBe('2');
    wrapper.unmount();
  });
});
