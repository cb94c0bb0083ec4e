// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import type { ModelEntry } from '@shared/contract';
import ModelArchitectureCard from './ModelArchitectureCard.vue';

function entry(format: ModelEntry['format']): ModelEntry {
  const card = { architecture: 'llama', parameters: 135e6, layers: 30, hidden: 576, heads: 9, kvHeads: 3, headDim: 64, vocabSize: 49152 };
  return {
    name: 'smollm2',
    path: '/models/smollm2',
    format,
    card: { ...card, contextLength: 8192, dtype: 'Q4_1', tiedEmbeddings: true, memoryFloat32Bytes: 540e6 },
  } as unknown as ModelEntry;
}

describe('ModelArchitectureCard', () => {
  it('names each model format for people, GGUF included', () => {
    expect(mount(ModelArchitectureCard, { props: { model: entry('gguf') } }).text()).toContain('GGUF');
    expect(mount(ModelArchitectureCard, { props: { model: entry('hf') } }).text()).toContain('Hugging Face');
    const llama2c = mount(ModelArchitectureCard, { props: { model: entry('llama2c') } }).text();
    expect(llama2c).toContain('llama2.c');
    expect(llama2c).not.toContain('GGUF');
  });
});
