// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: PrefixDiagnosticsPanel } = await import('./PrefixDiagnosticsPanel.vue');

type Status = 'running' | 'finished' | 'cancelled' | 'failed';
function run(runId: string, method: string, status: Status, step: number, checkpointSteps: number[] = []) {
  return {
    version: 1,
    runId,
    status,
    method,
    methodOptions: {},
    trainer: {},
    learningRate: 1e-3,
    seed: 0,
    backend: 'cpu',
    appVersion: '0',
    pid: 1,
    hostname: 'h',
    startedAt: '2026-01-01T00:00:00Z',
    baseModel: { path: '/m', architecture: 'llama', parameters: 100, files: [] },
    dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainCount: 1, evalCount: 1 },
    trainableParams: 10,
    totalSteps: 40,
    step,
    checkpoints: checkpointSteps.map((s) => ({ step: s, dir: `checkpoints/step-${s}`, createdAt: '', trainLoss: 1 })),
  };
}
const item = (method: string, status: string, runId: string | null) => ({
  itemId: `i-${method}-${runId}`,
  comparisonId: 'c',
  kind: 'train',
  method,
  seed: 0,
  status,
  runId,
  enqueuedAt: '',
});
const diagnostics = { runId: 'p', method: 'ptplus', kind: 'ptplus-memory-ratio', byLayer: [[0.1, 0.2]], layerMeans: [0.15], counts: [2, 2], texts: 16 };

function mountPanel(runs: ReturnType<typeof run>[], items: ReturnType<typeof item>[]) {
  return mount(PrefixDiagnosticsPanel, { props: { runs, items } as never, global: { stubs: { ThemedChart: true } } });
}

describe('PrefixDiagnosticsPanel says what it needs, by run state', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    fake.call('training.diagnostics').mockReset().mockResolvedValue(diagnostics);
  });

  it('no Prefix-Tuning or PT+ run in the comparison', () => {
    const wrapper = mountPanel([run('l', 'lora', 'finished', 40, [40])], [item('lora', 'finished', 'l')]);
    expect(wrapper.find('[data-testid="diagnostics-none"]').text()).toContain('This comparison has no Prefix-Tuning or Prefix-Tuning+ run');
    expect(fake.call('training.diagnostics')).not.toHaveBeenCalled();
  });

  it('the only PT+ run still training, before its first checkpoint: needs a finished run, not "include one"', async () => {
    const wrapper = mountPanel([run('p', 'ptplus', 'running', 3)], [item('ptplus', 'running', 'p')]);
    await flushPromises();
    expect(wrapper.find('[data-testid="diagnostics-none"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="diagnostics-ptplus-note"]').text()).toBe(
      'These need a finished Prefix-Tuning or Prefix-Tuning+ run: Prefix-Tuning+ (seed 0) is still training (step 3 of 40); they appear here when it finishes.',
    );
    expect(wrapper.find('[data-testid="diagnostics-ptplus-measure"]').exists()).toBe(false);
    expect(fake.call('training.diagnostics')).not.toHaveBeenCalled();
  });

  it('a PT+ run still training with a checkpoint is not measured mid-way either', async () => {
    const wrapper = mountPanel([run('p', 'ptplus', 'running', 12, [10])], [item('ptplus', 'running', 'p')]);
    await flushPromises();
    expect(wrapper.find('[data-testid="diagnostics-ptplus-note"]').text()).toContain('is still training (step 12 of 40)');
    expect(wrapper.find('[data-testid="diagnostics-ptplus-measure"]').exists()).toBe(false);
    expect(fake.call('training.diagnostics')).not.toHaveBeenCalled();
  });

  it('a Prefix-Tuning run not started yet is waiting in the queue', () => {
    const wrapper = mountPanel([], [item('prefix', 'queued', null)]);
    expect(wrapper.find('[data-testid="diagnostics-prefix-note"]').text()).toContain('Prefix-Tuning (seed 0) is waiting in the queue');
  });

  it('a finished PT+ run is measured and drawn; one that finishes later is measured then', async () => {
    const wrapper = mountPanel([run('p', 'ptplus', 'running', 12, [10])], [item('ptplus', 'running', 'p')]);
    await flushPromises();
    expect(fake.call('training.diagnostics')).not.toHaveBeenCalled();
    await wrapper.setProps({ runs: [run('p', 'ptplus', 'finished', 40, [10, 40])], items: [item('ptplus', 'finished', 'p')] } as never);
    await flushPromises();
    expect(fake.call('training.diagnostics')).toHaveBeenCalledWith({ runId: 'p', texts: 16 });
    expect(wrapper.find('[data-testid="diagnostics-ptplus-note"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="diagnostics-ptplus"]').text()).toContain('mean per layer');
    expect(wrapper.find('[data-testid="diagnostics-ptplus"]').text()).toContain('L0 0.150');
  });

  it('a cancelled run with a checkpoint: says so and offers to measure that checkpoint', async () => {
    const wrapper = mountPanel([run('p', 'ptplus', 'cancelled', 12, [10])], [item('ptplus', 'cancelled', 'p')]);
    await flushPromises();
    expect(wrapper.find('[data-testid="diagnostics-ptplus-note"]').text()).toContain(
      'Prefix-Tuning+ (seed 0) was cancelled at step 12 of 40. Resume it, or measure its last checkpoint (step 10).',
    );
    expect(fake.call('training.diagnostics')).not.toHaveBeenCalled();
    await wrapper.find('[data-testid="diagnostics-ptplus-measure"]').trigger('click');
    await flushPromises();
    expect(fake.call('training.diagnostics')).toHaveBeenCalledTimes(1);
    expect(wrapper.find('[data-testid="diagnostics-ptplus"]').text()).toContain('mean per layer');
  });
});
