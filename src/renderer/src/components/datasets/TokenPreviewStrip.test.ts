// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: TokenPreviewStrip } = await import('./TokenPreviewStrip.vue');

describe('TokenPreviewStrip', () => {
  it('shows masked prompt tokens and trained target tokens differently, with counts', async () => {
    setActivePinia(createPinia());
    fake.call('datasets.previewTokens').mockResolvedValue({
      tokens: [
        { id: 1, text: '<s>', isPrompt: true },
        { id: 40, text: 'Great film', isPrompt: true },
        { id: 41, text: ' positive', isPrompt: false },
      ],
      promptTokens: 2,
      targetTokens: 1,
    });
    const wrapper = mount(TokenPreviewStrip, { props: { modelId: 'm-1', example: { prompt: 'Great film', target: ' positive' } } });
    await flushPromises();
    expect(fake.call('datasets.previewTokens')).toHaveBeenCalledWith({ modelId: 'm-1', prompt: 'Great film', target: ' positive' });
    const prompt = wrapper.findAll('[data-kind="prompt"]');
    const target = wrapper.findAll('[data-kind="target"]');
    expect(prompt).toHaveLength(2);
    expect(target).toHaveLength(1);
    expect(prompt[0].classes()).toContain('prompt');
    expect(target[0].classes()).toContain('target');
    // Spaces are made visible so a leading-space token is not mistaken for an empty one.
    expect(target[0].text()).toBe('·positive');
    expect(wrapper.text()).toContain('masked from the loss (2)');
    expect(wrapper.text()).toContain('trained (1)');
  });

  it('says what to do when no tokenizer is chosen', () => {
    setActivePinia(createPinia());
    const wrapper = mount(TokenPreviewStrip, { props: { modelId: null, example: null } });
    expect(wrapper.text()).toContain("Choose a model's tokenizer");
  });

  it('shows a readable error instead of tokens when the call fails', async () => {
    setActivePinia(createPinia());
    fake.call('datasets.previewTokens').mockRejectedValue(Object.assign(new Error('x has no tokenizer'), { code: 'unsupported', field: 'modelId' }));
    const wrapper = mount(TokenPreviewStrip, { props: { modelId: 'm-2', example: { prompt: 'a', target: 'b' } } });
    await flushPromises();
    expect(wrapper.find('[role="alert"]').text()).toBe('x has no tokenizer');
  });
});
