// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: ResultsTable } = await import('./ResultsTable.vue');
const { useRunsStore } = await import('../../stores/runs');

function run(runId: string, method: string, seed: number, accuracy: number, tokensPerSecond: number) {
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
    baseModel: { path: '/m', architecture: 'llama', parameters: 100, files: [] },
    dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainCount: 1, evalCount: 1 },
    trainableParams: method === 'lora' ? 8960 : 2560,
    totalSteps: 4,
    step: 4,
    checkpoints: [],
    final: { trainLoss: 1, evalLoss: 1 - accuracy, accuracy, perClassAccuracy: null, labels: null, confusion: null, exactMatch: null, evalExamples: 16 },
    result: { tokensPerSecond, peakMemoryBytes: method === 'lora' ? 2e6 : 1e6, peakRssBytes: 1, wallSeconds: method === 'lora' ? 1 : 2, tokensSeen: 10 },
  };
}

describe('ResultsTable', () => {
  it('shows accuracy mean ± std over seeds per method and stars the best of each column', () => {
    setActivePinia(createPinia());
    const store = useRunsStore();
    store.comparisons = [
      {
        comparisonId: 'c',
        createdAt: '',
        modelId: 'm',
        modelName: 'm',
        datasetId: 'd',
        datasetName: 'd',
        splitName: 's',
        methods: [
          { method: 'ptplus', options: {} },
          { method: 'lora', options: {} },
        ],
        seeds: [0, 1],
        steps: 4,
        budgetTokens: null,
        trainer: {},
        items: [],
      },
    ];
    store.queue = ['p0', 'p1', 'l0', 'l1'].map((id) => ({
      itemId: id,
      comparisonId: 'c',
      kind: 'train' as const,
      method: id.startsWith('p') ? ('ptplus' as const) : ('lora' as const),
      seed: Number(id[1]),
      status: 'finished' as const,
      runId: id,
      enqueuedAt: id,
    }));
    store.runs = [run('p0', 'ptplus', 0, 0.8, 900), run('p1', 'ptplus', 1, 0.9, 1100), run('l0', 'lora', 0, 0.7, 2000), run('l1', 'lora', 1, 0.7, 2000)] as never;
    const wrapper = mount(ResultsTable);
    const ptplus = wrapper.find('[data-testid="result-ptplus"]');
    const lora = wrapper.find('[data-testid="result-lora"]');
    expect(ptplus.text()).toContain('85.0% ± 7.1%');
    expect(lora.text()).toContain('70.0% ± 0.0%');
    const bestOf = (row: typeof ptplus) =>
      row.findAll('td.best').map((td) => wrapper.findAll('th')[td.element.parentElement ? Array.from(td.element.parentElement.children).indexOf(td.element) : 0].text());
    expect(bestOf(ptplus)).toEqual(['Trainable params', 'Accuracy (mean ± std)', 'Eval loss', 'Peak memory']);
    expect(bestOf(lora)).toEqual(['Train tokens/s', 'Wall time']);
    expect(ptplus.findAll('.star')).toHaveLength(4);
  });

  it('with a test file, shows its accuracy and loss beside the eval split’s, each labelled', () => {
    setActivePinia(createPinia());
    const store = useRunsStore();
    store.comparisons = [
      {
        comparisonId: 'c',
        createdAt: '',
        modelId: 'm',
        modelName: 'm',
        datasetId: 'd',
        datasetName: 'd',
        splitName: 's',
        testDatasetId: 't',
        testDatasetName: 'sst2-test.tsv',
        methods: [{ method: 'lora', options: {} }],
        seeds: [0, 1],
        steps: 4,
        budgetTokens: null,
        trainer: {},
        items: [],
      },
    ];
    store.queue = ['l0', 'l1'].map((id) => ({
      itemId: id,
      comparisonId: 'c',
      kind: 'train' as const,
      method: 'lora' as const,
      seed: Number(id[1]),
      status: 'finished' as const,
      runId: id,
      enqueuedAt: id,
    }));
    const tested = (r: ReturnType<typeof run>, accuracy: number, evalLoss: number) => ({ ...r, finalTest: { ...r.final, accuracy, evalLoss, evalExamples: 8 } });
    store.runs = [tested(run('l0', 'lora', 0, 0.7, 2000), 0.5, 0.75), tested(run('l1', 'lora', 1, 0.9, 2000), 0.75, 0.5)] as never;
    const wrapper = mount(ResultsTable);
    const headers = wrapper.findAll('th').map((th) => th.text());
    expect(headers).toEqual(expect.arrayContaining(['Eval-split accuracy (mean ± std)', 'Eval-split loss', 'Test-file accuracy (mean ± std)', 'Test-file loss']));
    expect(wrapper.find('[data-testid="results-test-accuracy"]').attributes('title')).toBe('Scored on sst2-test.tsv, never trained on');
    const row = wrapper.find('[data-testid="result-lora"]');
    expect(row.text()).toContain('80.0% ± 14.1%');
    expect(row.find('[data-testid="result-test-accuracy"]').text()).toBe('62.5% ± 17.7%');
    expect(row.find('[data-testid="result-test-loss"]').text()).toBe('0.625');
    expect(wrapper.text()).toContain('Test file: sst2-test.tsv, scored at the end and never trained on.');
  });
});
