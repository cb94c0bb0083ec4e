// @vitest-environment happy-dom
// Base vs tuned picks the comparison's runs or any registry adapter made on the same base model (asked for by
// the base's path; runs of other comparisons are not offered here): a run goes to training.generate as runId,
// as before, a registry adapter as adapterId.
import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { RegistryEntry, RunSummary } from '@shared/contract';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: BaseVsTunedPanel } = await import('./BaseVsTunedPanel.vue');

function run(runId: string, method: string, seed: number): RunSummary {
  return {
    version: 1,
    runId,
    status: 'finished',
    method,
    methodOptions: {},
    trainer: {},
    learningRate: 1e-3,
    seed,
    backend: 'cpu',
    appVersion: '0',
    pid: 1,
    hostname: 'h',
    startedAt: '2026-01-01T00:00:00Z',
    baseModel: { path: '/models/base', architecture: 'llama', parameters: 100, files: [] },
    dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainCount: 1, evalCount: 1 },
    trainableParams: 10,
    totalSteps: 4,
    step: 4,
    checkpoints: [{ step: 4, dir: 'checkpoints/step-4', createdAt: '', trainLoss: 1 }],
  } as unknown as RunSummary;
}

const common = {
  tags: [],
  notes: '',
  createdAt: '2025-01-01T00:00:00Z',
  modelPath: '/models/base',
  architecture: 'llama',
  datasetPath: null,
  datasetSha256: null,
  seed: 0,
  metrics: {},
};
const entries: RegistryEntry[] = [
  { kind: 'adapter', id: 'ad-1', name: 'sentiment', method: 'lora', status: 'ready', runId: null, parameters: 10, ...common },
  { kind: 'run', id: 'other-run', name: 'older comparison', method: 'lora', status: 'finished', step: 4, totalSteps: 4, endedAt: null, ...common },
];

describe('BaseVsTunedPanel', () => {
  it("lists the comparison's runs and the registry's adapters on the same base; sends runId or adapterId", async () => {
    setActivePinia(createPinia());
    vi.clearAllMocks();
    fake.call('methods.list').mockResolvedValue({ methods: [] });
    fake.call('adapters.list').mockResolvedValue({ entries });
    fake.call('training.generate').mockResolvedValue({ rows: [{ prompt: 'Once upon a time', base: ' a', tuned: ' b' }] });
    const wrapper = mount(BaseVsTunedPanel, { props: { runs: [run('r-ptplus', 'ptplus', 0), run('r-lora', 'lora', 1)] } });
    await flushPromises();
    expect(fake.call('adapters.list')).toHaveBeenCalledWith({ model: '/models/base', kinds: ['adapter', 'run'] });
    const select = wrapper.find('[data-testid="bvt-run"]');
    expect(select.findAll('option').map((o) => [o.attributes('value'), o.text()])).toEqual([
      ['run:r-ptplus', 'ptplus · seed 0'],
      ['run:r-lora', 'lora · seed 1'],
      ['adapter:ad-1', 'sentiment (adapter, lora)'],
    ]);

    await wrapper.find('[data-testid="bvt-run-button"]').trigger('click');
    await flushPromises();
    expect(fake.call('training.generate').mock.calls[0][0]).toEqual({ runId: 'r-ptplus', prompts: ['Once upon a time'], maxNewTokens: 24 });

    await select.setValue('adapter:ad-1');
    await wrapper.find('[data-testid="bvt-run-button"]').trigger('click');
    await flushPromises();
    expect(fake.call('training.generate').mock.calls[1][0]).toEqual({ adapterId: 'ad-1', prompts: ['Once upon a time'], maxNewTokens: 24 });
    expect(wrapper.find('[data-testid="bvt-table"]').exists()).toBe(true);
  });
});
