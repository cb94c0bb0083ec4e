// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { init, use } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';
import { createFakeApi } from '../../testing/fake-api';
import { readChartColors, type ChartColors } from '../../lib/charts';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: TrainingCurvesChart } = await import('./TrainingCurvesChart.vue');
const { default: ThemedChart } = await import('../charts/ThemedChart.vue');
const { useRunsStore } = await import('../../stores/runs');
use([SVGRenderer]);

const point = (step: number) => ({
  runId: 'r1',
  step,
  totalSteps: 3,
  epoch: 0,
  trainLoss: 2 / step,
  learningRate: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 100,
  tokensSeen: step * 1234,
  etaSeconds: 1,
  memory: { numTensors: 1, numBytes: 1, rssBytes: 1 },
});

/** The x-axis tick labels ECharts draws for an option (server-side SVG, so no canvas is needed). */
function xLabels(option: Record<string, unknown>): string[] {
  const chart = init(null, null, { renderer: 'svg', ssr: true, width: 800, height: 320 });
  chart.setOption(option);
  const model = (chart as unknown as { getModel(): { getComponent(type: string, i: number): { axis: { getViewLabels(): { formattedLabel: string }[] } } } }).getModel();
  const labels = model
    .getComponent('xAxis', 0)
    .axis.getViewLabels()
    .map((l) => l.formattedLabel);
  chart.dispose();
  return labels;
}

describe('TrainingCurvesChart', () => {
  it('labels the step axis in whole steps only, even for a three-step run', () => {
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
        methods: [{ method: 'ptplus', options: {} }],
        seeds: [0],
        steps: 3,
        budgetTokens: null,
        trainer: {},
        items: [],
      },
    ];
    store.queue = [{ itemId: 'i', comparisonId: 'c', kind: 'train', method: 'ptplus', seed: 0, status: 'finished', runId: 'r1', enqueuedAt: '' }];
    store.metrics.set('r1', [point(1), point(2), point(3)]);
    const wrapper = mount(TrainingCurvesChart, { global: { stubs: { ThemedChart: true } } });
    const build = wrapper.findComponent(ThemedChart).props('build') as (colors: ChartColors) => Record<string, unknown>;
    const option = build(readChartColors());
    expect(option.xAxis).toMatchObject({ type: 'value', minInterval: 1 });
    const labels = xLabels(option);
    expect(labels.length).toBeGreaterThan(1);
    expect(labels.every((l) => /^\d+$/.test(l))).toBe(true);
    expect(labels).toContain('2');
  });
});
