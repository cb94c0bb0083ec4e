// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: RunProgressRow } = await import('./RunProgressRow.vue');
const { default: ResultsTable } = await import('./ResultsTable.vue');
const { useRunsStore } = await import('../../stores/runs');

// The reported case: the last progress event's rate (last few steps, warmed up) was 978 tok/s while the run's
// whole-run figure, which the Results table shows, was 841.
const latest = {
  runId: 'p0',
  step: 40,
  totalSteps: 40,
  epoch: 1,
  trainLoss: 1,
  learningRate: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 978,
  tokensSeen: 4000,
  etaSeconds: 0,
  memory: { numTensors: 1, numBytes: 1024, rssBytes: 2048 },
};
const run = (status: string, result?: { tokensPerSecond: number }) => ({
  version: 1,
  runId: 'p0',
  status,
  method: 'ptplus',
  methodOptions: {},
  trainer: {},
  learningRate: 1e-3,
  seed: 0,
  backend: 'cpu',
  appVersion: '0',
  pid: 1,
  hostname: 'h',
  startedAt: '',
  baseModel: { path: '/m', architecture: 'llama', parameters: 100, files: [] },
  dataset: { path: '/d', sha256: 'x', kPerClass: null, splitSeed: 0, trainCount: 1, evalCount: 1 },
  trainableParams: 2560,
  totalSteps: 40,
  step: 40,
  checkpoints: [],
  final: { trainLoss: 1, evalLoss: 1, accuracy: 0.5, perClassAccuracy: null, labels: null, confusion: null, exactMatch: null, evalExamples: 16 },
  ...(result ? { result: { peakMemoryBytes: 1, peakRssBytes: 1, wallSeconds: 5, tokensSeen: 4000, ...result } } : {}),
});
const item = (status: string) => ({ itemId: 'i', comparisonId: 'c', kind: 'train', method: 'ptplus', seed: 0, status, runId: 'p0', enqueuedAt: '' });
const props = (status: string, r: ReturnType<typeof run>) => ({ item: item(status), run: r, latest, label: 'Prefix-Tuning+', color: '#000', canResume: false }) as never;

describe('RunProgressRow tokens/s', () => {
  it('while training: the rate of the last few steps, labelled as current', () => {
    setActivePinia(createPinia());
    const wrapper = mount(RunProgressRow, { props: props('running', run('running')) });
    const figure = wrapper.find('[data-testid="run-tokens-per-second"]');
    expect(figure.text()).toBe('978 tok/s now');
    expect(figure.attributes('title')).toContain('last few optimiser steps');
  });

  it('once finished: the whole-run figure, the same number the Results table shows for this run', () => {
    setActivePinia(createPinia());
    const finished = run('finished', { tokensPerSecond: 841.2 });
    const row = mount(RunProgressRow, { props: props('finished', finished) });
    const figure = row.find('[data-testid="run-tokens-per-second"]');
    expect(figure.text()).toBe('841 tok/s, whole run');
    expect(figure.attributes('title')).toContain('over the whole run');

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
        methods: [{ method: 'ptplus', options: {} }],
        seeds: [0],
        steps: 40,
        budgetTokens: null,
        trainer: {},
        items: [],
      },
    ];
    store.queue = [item('finished')] as never;
    store.runs = [finished] as never;
    const table = mount(ResultsTable);
    const headers = table.findAll('th');
    const column = headers.findIndex((th) => th.text() === 'Train tokens/s');
    expect(column).toBeGreaterThan(0);
    expect(headers[column].attributes('title')).toContain('whole run');
    expect(table.find('[data-testid="result-ptplus"]').findAll('td')[column].text()).toBe('841');
  });
});

describe('RunProgressRow scores', () => {
  const point = (step: number, extra: Record<string, number> = {}) => ({ ...latest, step, ...extra });

  it('while training: the last evaluated step’s eval-split and test-file scores, each labelled', () => {
    setActivePinia(createPinia());
    const store = useRunsStore();
    store.metrics.set('p0', [point(1), point(2, { evalLoss: 0.7, evalAccuracy: 0.75, testLoss: 0.9, testAccuracy: 0.625 }), point(3)]);
    const wrapper = mount(RunProgressRow, { props: { ...(props('running', run('running')) as object), latest: point(3) } as never });
    expect(wrapper.find('[data-testid="run-eval-scores"]').text()).toBe('Eval split: acc 75.0% · loss 0.700');
    expect(wrapper.find('[data-testid="run-test-scores"]').text()).toBe('Test file: acc 62.5% · loss 0.900');
    expect(wrapper.find('[data-testid="run-scores"]').text()).toContain('(step 2)');
  });

  it('nothing held out: the test file’s scores once, as the test file’s', () => {
    setActivePinia(createPinia());
    useRunsStore().metrics.set('p0', [point(2, { evalLoss: 0.9, evalAccuracy: 0.625, testLoss: 0.9, testAccuracy: 0.625 })]);
    const wrapper = mount(RunProgressRow, { props: props('running', run('running')) });
    expect(wrapper.find('[data-testid="run-eval-scores"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="run-test-scores"]').text()).toBe('Test file: acc 62.5% · loss 0.900');
  });

  it('once finished: the final blocks, finalTest beside final', () => {
    setActivePinia(createPinia());
    const finished = {
      ...run('finished', { tokensPerSecond: 841 }),
      finalTest: { trainLoss: 1, evalLoss: 0.25, accuracy: 0.875, perClassAccuracy: null, labels: null, confusion: null, exactMatch: null, evalExamples: 8 },
    };
    const wrapper = mount(RunProgressRow, { props: props('finished', finished as never) });
    expect(wrapper.find('[data-testid="run-eval-scores"]').text()).toBe('Eval split: acc 50.0% · loss 1.000');
    expect(wrapper.find('[data-testid="run-test-scores"]').text()).toBe('Test file: acc 87.5% · loss 0.250');
    expect(wrapper.find('[data-testid="run-scores"]').text()).not.toContain('step');
  });

  it('without a test file, no test scores', () => {
    setActivePinia(createPinia());
    const wrapper = mount(RunProgressRow, { props: props('finished', run('finished', { tokensPerSecond: 841 })) });
    expect(wrapper.find('[data-testid="run-eval-scores"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="run-test-scores"]').exists()).toBe(false);
  });
});
