// @vitest-environment happy-dom
// The playground's chat mode: offered only for a model whose card has a chat template; each message goes to
// models.generate as `messages` with the turns before it (no prompt), the streamed answer shows while it comes
// and joins the conversation; a failed turn is taken back with its text kept; Clear empties it; switching
// models drops it. Without chat mode the prompt is continued as before.
import { describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import type { ModelEntry } from '@shared/contract';
import { createFakeApi } from '../../testing/fake-api';

const fake = createFakeApi();
vi.mock('../../api', () => ({ api: fake.api, transportName: 'websocket' }));
const { default: GenerationPlayground } = await import('./GenerationPlayground.vue');
const { useModelsStore } = await import('../../stores/models');

function model(id: string, hasChatTemplate: boolean | undefined): ModelEntry {
  const card = { architecture: 'llama', parameters: 1, layers: 1, hidden: 8, heads: 1, kvHeads: 1, headDim: 8, vocabSize: 8, contextLength: 8 };
  return {
    id,
    name: id,
    path: `/models/${id}`,
    format: 'gguf',
    card: { ...card, dtype: 'Q4_1', memoryFloat32Bytes: 4, tiedEmbeddings: true, hasTokenizer: true, ...(hasChatTemplate === undefined ? {} : { hasChatTemplate }) },
    importedAt: '2025-01-01T00:00:00Z',
  };
}

const result = (text: string) => ({ generationId: 'x', text, promptTokens: 20, generatedTokens: 3, finishReason: 'eos', elapsedMs: 10, tokensPerSecond: 300 });

let previous: { tearDown(): void } | null = null;

async function setUp(models: ModelEntry[]) {
  previous?.tearDown(); // the last test's store stops listening to token events
  setActivePinia(createPinia());
  localStorage.clear();
  vi.clearAllMocks();
  fake.call('models.list').mockResolvedValue({ models });
  fake.call('models.discover').mockResolvedValue({ models: [], warnings: [] });
  const store = useModelsStore();
  previous = store;
  store.setUp();
  await flushPromises();
  const wrapper = mount(GenerationPlayground);
  return { store, wrapper };
}

const messagesOf = (wrapper: ReturnType<typeof mount>) =>
  wrapper.findAll('[data-testid="chat-message"]').map((m) => ({ role: m.attributes('data-role'), text: m.find('.content').text() }));

describe('GenerationPlayground chat mode', () => {
  it('is offered only when the card has a chat template', async () => {
    const { wrapper: withTemplate } = await setUp([model('smollm2', true)]);
    expect(withTemplate.find('[data-testid="gen-chat-toggle"]').exists()).toBe(true);
    for (const card of [false, undefined]) {
      const { wrapper } = await setUp([model('plain', card)]);
      expect(wrapper.find('[data-testid="gen-chat-toggle"]').exists()).toBe(false);
      expect(wrapper.find('[data-testid="gen-prompt"]').exists()).toBe(true);
    }
  });

  it('keeps a conversation: sends every turn as messages, streams the answer, appends it, and clears', async () => {
    const { store, wrapper } = await setUp([model('smollm2', true)]);
    await wrapper.find('[data-testid="gen-chat-toggle"]').setValue(true);
    expect(wrapper.find('[data-testid="gen-prompt"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="gen-output"]').exists()).toBe(false);

    let finish!: (value: unknown) => void;
    fake.call('models.generate').mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
    await wrapper.find('[data-testid="chat-input"]').setValue('What is the capital of France?');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    const first = fake.call('models.generate').mock.calls[0][0];
    expect(first.messages).toEqual([{ role: 'user', content: 'What is the capital of France?' }]);
    expect(first.prompt).toBeUndefined();
    expect(first.modelId).toBe('smollm2');
    // Tokens stream into the pending answer.
    fake.emit('models.token', { generationId: first.generationId, index: 0, text: 'The capital', tokensPerSecond: 5 });
    fake.emit('models.token', { generationId: first.generationId, index: 1, text: ' is Paris', tokensPerSecond: 5 });
    await flushPromises();
    expect(wrapper.find('[data-testid="chat-pending"]').text()).toContain('The capital is Paris');
    finish(result('The capital of France is Paris.'));
    await flushPromises();
    expect(wrapper.find('[data-testid="chat-pending"]').exists()).toBe(false);
    expect(messagesOf(wrapper)).toEqual([
      { role: 'user', text: 'What is the capital of France?' },
      { role: 'assistant', text: 'The capital of France is Paris.' },
    ]);
    expect((wrapper.find('[data-testid="chat-input"]').element as HTMLTextAreaElement).value).toBe('');

    fake.call('models.generate').mockResolvedValueOnce(result('About 2.1 million.'));
    await wrapper.find('[data-testid="chat-input"]').setValue('And its population?');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(fake.call('models.generate').mock.calls[1][0].messages).toEqual([
      { role: 'user', content: 'What is the capital of France?' },
      { role: 'assistant', content: 'The capital of France is Paris.' },
      { role: 'user', content: 'And its population?' },
    ]);
    expect(messagesOf(wrapper)).toHaveLength(4);
    expect(store.conversation[3]).toEqual({ role: 'assistant', content: 'About 2.1 million.' });

    await wrapper.find('[data-testid="chat-clear"]').trigger('click');
    expect(messagesOf(wrapper)).toEqual([]);
    expect(store.conversation).toEqual([]);
  });

  it('a failed turn is taken back and its text stays in the box; switching models drops the conversation', async () => {
    const { store, wrapper } = await setUp([model('smollm2', true), model('other', true)]);
    store.chatMode = true;
    await flushPromises();
    fake.call('models.generate').mockResolvedValueOnce(result('Hello!'));
    store.chatInput = 'Hi';
    await store.sendChat();
    fake.call('models.generate').mockRejectedValueOnce(Object.assign(new Error('chat_template: this model has no chat_template'), { code: 'unsupported' }));
    store.chatInput = 'Tell me more';
    await store.sendChat();
    await flushPromises();
    expect(messagesOf(wrapper)).toEqual([
      { role: 'user', text: 'Hi' },
      { role: 'assistant', text: 'Hello!' },
    ]);
    expect(store.chatInput).toBe('Tell me more');
    expect(wrapper.find('[role="alert"]').text()).toContain('no chat_template');

    store.select('other');
    await flushPromises();
    expect(store.conversation).toEqual([]);
  });

  it('without chat mode the prompt is continued as before', async () => {
    const { wrapper } = await setUp([model('smollm2', true)]);
    fake.call('models.generate').mockResolvedValueOnce(result(' there was a cat.'));
    await wrapper.find('[data-testid="gen-prompt"]').setValue('Once upon a time');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    const request = fake.call('models.generate').mock.calls[0][0];
    expect(request.prompt).toBe('Once upon a time');
    expect(request.messages).toBeUndefined();
    expect(wrapper.find('[data-testid="gen-output"]').text()).toBe('Once upon a time there was a cat.');
  });
});
