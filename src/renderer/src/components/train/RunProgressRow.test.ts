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
