// @vitest-environment happy-dom
// The renderer names no method: whatever methods.list returns — here a sixth method the registry gained — is
// listed in that order with its own setup, the first one ticked, and coloured by its place in the list.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../testing/fake-api';
import { methodColor, type ChartColors } from '../lib/charts';

const fake = createFakeApi();
vi.mock('../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { useMethodsStore } = await import('./methods');

const info = (name: string, defaultLearningRate: number, defaults: Record<string, unknown> = {}) => ({
  name,
  label: name.toUpperCase(),
  summary: `${name} trains something`,
  defaultLearningRate,
  optionsSchema: { type: 'object', properties: {} },
  defaults,
});
const LISTED = [info('ptplus', 1e-2), info('prefix', 1e-3), info('prompt', 1e-1), info('lora', 3e-3), info('full', 1e-4), info('gate', 5e-2, { target: 'o_proj' })];
const colors: ChartColors = { text: '', muted: '', border: '', panel: '', accent: '', series: ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'] };

describe('methods store', () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    fake.call('methods.list').mockResolvedValue({ methods: LISTED, trainer: { optionsSchema: {}, defaults: { batchSize: 8 } } });
  });

  it('lists what methods.list gives, a sixth method included, in its order and colours', async () => {
    const store = useMethodsStore();
    await store.load();
    expect(store.names).toEqual(['ptplus', 'prefix', 'prompt', 'lora', 'full', 'gate']);
    expect(store.setups.gate).toEqual({ isSelected: false, options: { target: 'o_proj' }, learningRate: 5e-2, estimate: null, estimateError: null });
    expect(store.setups.ptplus?.isSelected).toBe(true);
    expect(store.names.map((name) => methodColor(name, colors, store.names))).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    // A name the list does not (yet) hold gets the next colour, never another method's by accident of lookup.
    expect(methodColor('other', colors, ['ptplus', 'lora'])).toBe('c3');
  });

  it('asks methods.estimate with the method name as listed', async () => {
    const store = useMethodsStore();
    await store.load();
    fake.call('methods.estimate').mockResolvedValue({ method: 'gate', trainableParams: 2 });
    await store.estimate('gate', 'model-1', 4, 32);
    expect(fake.call('methods.estimate')).toHaveBeenCalledWith({ modelId: 'model-1', method: 'gate', options: { target: 'o_proj' }, batchSize: 4, maxLength: 32 });
    expect(store.setups.gate?.estimate).toMatchObject({ trainableParams: 2 });
  });
});
