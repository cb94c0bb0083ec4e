// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { defineComponent, h } from 'vue';
import { createFakeApi } from '../testing/fake-api';

const fake = createFakeApi();
vi.mock('../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: TrainView } = await import('./TrainView.vue');
const { useRunsStore } = await import('../stores/runs');

const comparison = {
  comparisonId: 'c1',
  createdAt: '2026-01-01T00:00:00Z',
  modelId: 'm',
  modelName: 'm',
  datasetId: 'd',
  datasetName: 'd',
  splitName: 'default',
  methods: [{ method: 'ptplus', options: {} }],
  seeds: [0],
  steps: 10,
  budgetTokens: null,
  trainer: {},
  items: [],
};
const queued = { itemId: 'i1', comparisonId: 'c1', kind: 'train', method: 'ptplus', seed: 0, status: 'queued', runId: null, enqueuedAt: '2026-01-01T00:00:00Z' };

/** The setup form reduced to its Launch button: it starts a comparison through the store, as the real one does. */
const LaunchOnly = defineComponent({
  setup() {
    const runs = useRunsStore();
    const launch = async (): Promise<void> => {
      await runs.start({} as never);
    };
    return () => h('button', { 'data-testid': 'launch', onClick: launch }, 'Launch');
  },
});

describe('TrainView', () => {
  const originalScroll = HTMLElement.prototype.scrollIntoView;
  afterEach(() => {
    HTMLElement.prototype.scrollIntoView = originalScroll;
  });

  it('after Launch, scrolls the runs panel into view and focuses it', async () => {
    localStorage.clear();
    setActivePinia(createPinia());
    fake.call('methods.list').mockResolvedValue({ methods: [], trainer: { defaults: {} } });
    fake.call('training.state').mockResolvedValue({ comparisons: [], queue: [], runs: [] });
    fake.call('training.start').mockImplementation(async () => {
      fake.call('training.state').mockResolvedValue({ comparisons: [comparison], queue: [queued], runs: [] });
      return comparison;
    });
    const scrolled: Element[] = [];
    // happy-dom does no layout; record what asked to be scrolled into view.
    HTMLElement.prototype.scrollIntoView = vi.fn(function (this: Element) {
      scrolled.push(this);
    });
    const wrapper = mount(TrainView, {
      attachTo: document.body,
      global: {
        stubs: { CompareSetup: LaunchOnly, TrainingCurvesChart: true, ResultsTable: true, ConfigDiff: true, BaseVsTunedPanel: true, PrefixDiagnosticsPanel: true },
      },
    });
    await flushPromises();
    expect(wrapper.find('[data-testid="run-queue"]').exists()).toBe(false);

    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    const panel = wrapper.find('[data-testid="run-queue"]');
    expect(panel.exists()).toBe(true);
    expect(wrapper.find('[data-testid="launch"]').exists()).toBe(false);
    expect(scrolled).toEqual([panel.element]);
    expect(document.activeElement).toBe(panel.element);
    wrapper.unmount();
  });

  it('a later launch from "New comparison" closes the form and reveals the runs again', async () => {
    localStorage.clear();
    setActivePinia(createPinia());
    const second = { ...comparison, comparisonId: 'c2' };
    fake.call('methods.list').mockResolvedValue({ methods: [], trainer: { defaults: {} } });
    fake.call('training.state').mockResolvedValue({ comparisons: [comparison], queue: [queued], runs: [] });
    fake.call('training.start').mockImplementation(async () => {
      fake.call('training.state').mockResolvedValue({ comparisons: [comparison, second], queue: [queued, { ...queued, itemId: 'i2', comparisonId: 'c2' }], runs: [] });
      return second;
    });
    const scrollIntoView = vi.fn();
    HTMLElement.prototype.scrollIntoView = scrollIntoView;
    const wrapper = mount(TrainView, {
      attachTo: document.body,
      global: { stubs: { CompareSetup: LaunchOnly, TrainingCurvesChart: true, ResultsTable: true, ConfigDiff: true, BaseVsTunedPanel: true, PrefixDiagnosticsPanel: true } },
    });
    await flushPromises();
    await wrapper.find('[data-testid="new-comparison"]').trigger('click');
    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="launch"]').exists()).toBe(false);
    expect(scrollIntoView).toHaveBeenCalledTimes(1);
    expect(document.activeElement).toBe(wrapper.find('[data-testid="run-queue"]').element);
    wrapper.unmount();
  });
});
