// @vitest-environment happy-dom
// The setup's "Test file (optional)": another imported dataset of the training dataset's task, sent as
// training.start's testDatasetId (and nothing without one); main's refusal shows as the launch error.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: CompareSetup } = await import('./CompareSetup.vue');
const { useRunsStore } = await import('../../stores/runs');

const split = { name: 'default', method: 'stratified', seed: 1, trainCount: 12, evalCount: 4, testCount: 0, trainLabels: { '0': 6, '1': 6 } };
const dataset = (id: string, task: string, examples: number) => ({
  id,
  name: `${id}.tsv`,
  task,
  examples,
  splits: task === 'classification' ? ['default'] : [],
  splitSummaries: [split],
});
const comparison = {
  comparisonId: 'c1',
  createdAt: '',
  modelId: 'm',
  modelName: 'm',
  datasetId: 'train',
  datasetName: 'train.tsv',
  splitName: 'default',
  methods: [],
  seeds: [0],
  steps: 100,
  budgetTokens: null,
  trainer: {},
  items: [],
};

describe('CompareSetup test file', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    fake.call('models.list').mockResolvedValue({ models: [{ id: 'm', name: 'm' }] });
    fake.call('datasets.list').mockResolvedValue({ datasets: [dataset('train', 'classification', 16), dataset('test', 'classification', 8), dataset('qa', 'completion', 3)] });
    fake.call('methods.list').mockResolvedValue({
      methods: [{ name: 'lora', label: 'LoRA', summary: '', defaultLearningRate: 1e-3, optionsSchema: { type: 'object', properties: {} }, defaults: {} }],
      trainer: { optionsSchema: {}, defaults: {} },
    });
    fake.call('training.state').mockResolvedValue({ comparisons: [comparison], queue: [], runs: [] });
    fake.call('training.start').mockResolvedValue(comparison);
  });

  const mountSetup = async () => {
    const wrapper = mount(CompareSetup, { global: { stubs: { MethodOptionsForm: true } } });
    await flushPromises();
    return wrapper;
  };

  it('offers the other imported datasets of the same task, none by default, and sends the one chosen as testDatasetId', async () => {
    const wrapper = await mountSetup();
    const select = wrapper.find('[data-testid="setup-test-dataset"]');
    expect(select.findAll('option').map((o) => o.text())).toEqual(['none', 'test.tsv (8 examples)']);
    expect(wrapper.text()).toContain('Test file (optional)');

    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    expect(fake.call('training.start').mock.calls[0][0]).not.toHaveProperty('testDatasetId');

    await select.setValue('test');
    expect(useRunsStore().compareSettings.testDatasetId).toBe('test');
    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    expect(fake.call('training.start').mock.calls[1][0]).toMatchObject({ datasetId: 'train', splitName: 'default', testDatasetId: 'test' });
    wrapper.unmount();
  });

  it('a remembered test dataset that is gone (or of another task) is dropped; a refusal from main is the launch error', async () => {
    localStorage.setItem('prefixlab-compare-settings', JSON.stringify({ datasetId: 'train', testDatasetId: 'qa' }));
    setActivePinia(createPinia());
    fake
      .call('training.start')
      .mockRejectedValue(Object.assign(new Error('test dataset "test.tsv" has label 2 that the training split of "train.tsv" never trains on'), { code: 'invalid_argument' }));
    const wrapper = await mountSetup();
    expect(useRunsStore().compareSettings.testDatasetId).toBe('');
    await wrapper.find('[data-testid="setup-test-dataset"]').setValue('test');
    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="launch-error"]').text()).toContain('has label 2 that the training split of "train.tsv" never trains on');
    wrapper.unmount();
  });

  it('sends engine torch only when the torch engine is chosen', async () => {
    const wrapper = await mountSetup();
    const select = wrapper.find('[data-testid="setup-engine"]');
    expect(select.findAll('option').map((o) => o.attributes('value'))).toEqual(['tfjs', 'torch']);
    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    expect(fake.call('training.start').mock.calls.at(-1)![0]).not.toHaveProperty('engine');
    await select.setValue('torch');
    expect(wrapper.text()).toContain('Runs in the Python shown in Settings');
    await wrapper.find('[data-testid="launch"]').trigger('click');
    await flushPromises();
    expect(useRunsStore().compareSettings.engine).toBe('torch');
    expect(fake.call('training.start').mock.calls.at(-1)![0]).toMatchObject({ engine: 'torch' });
    wrapper.unmount();
  });
});
