// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../testing/fake-api';

const fake = createFakeApi();
vi.mock('../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { useRunsStore } = await import('./runs');

const point = (runId: string, step: number) => ({
  runId,
  step,
  totalSteps: 10,
  epoch: 0,
  trainLoss: 1 / step,
  learningRate: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 100,
  tokensSeen: step * 10,
  etaSeconds: 1,
  memory: { numTensors: 1, numBytes: 1, rssBytes: 1 },
});
const item = (runId: string | null, status: string) => ({
  itemId: `i-${runId}`,
  comparisonId: 'c1',
  kind: 'train',
  method: 'ptplus',
  seed: 0,
  status,
  runId,
  enqueuedAt: '2026-01-01T00:00:00Z',
});
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

describe('runs store: reattaching to live training after a reload', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    fake.call('training.state').mockResolvedValue({ comparisons: [comparison], queue: [item('r1', 'running')], runs: [] });
    fake.call('training.metrics').mockResolvedValue({ runId: 'r1', points: [point('r1', 1), point('r1', 2)] });
  });

  it('reads the logged curve of a running run, then appends live progress', async () => {
    const store = useRunsStore();
    store.setUp();
    await vi.waitFor(() => expect(store.metrics.get('r1')?.length).toBe(2));
    expect(fake.listenerCount('training.progress')).toBe(1);
    fake.emit('training.progress', point('r1', 3));
    expect(store.metrics.get('r1')?.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(store.latest('r1')?.step).toBe(3);
    store.tearDown();
    expect(fake.listenerCount('training.progress')).toBe(0);
  });

  it('a resumed run restarting from its checkpoint replaces the points after it', async () => {
    const store = useRunsStore();
    store.setUp();
    await vi.waitFor(() => expect(store.metrics.get('r1')?.length).toBe(2));
    fake.emit('training.progress', point('r1', 3));
    fake.emit('training.progress', point('r1', 4));
    fake.emit('training.progress', point('r1', 3)); // resumed from the step-2 checkpoint
    expect(store.metrics.get('r1')?.map((p) => p.step)).toEqual([1, 2, 3]);
    store.tearDown();
  });

  it('a queue change that starts or ends a run re-reads the manifests', async () => {
    const store = useRunsStore();
    store.setUp();
    await vi.waitFor(() => expect(store.isLoaded).toBe(true));
    const reads = fake.call('training.state').mock.calls.length;
    fake.call('training.state').mockResolvedValue({ comparisons: [comparison], queue: [item('r1', 'finished')], runs: [] });
    fake.emit('training.queue', { items: [item('r1', 'finished')] });
    await vi.waitFor(() => expect(fake.call('training.state').mock.calls.length).toBeGreaterThan(reads));
    expect(store.isBusy).toBe(false);
    store.tearDown();
  });
});
