// @vitest-environment happy-dom
import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import SchemaField from './SchemaField.vue';
import { fieldOf } from '../../lib/json-schema';

describe('SchemaField draws one option from its JSON Schema', () => {
  it('an enum becomes a select that marks the default and emits the choice', async () => {
    const spec = fieldOf('featureMap', { default: 'elu', description: 'Kernel φ', type: 'string', enum: ['elu', 'gelu'] });
    const wrapper = mount(SchemaField, { props: { spec, modelValue: 'elu', idPrefix: 't' } });
    const options = wrapper.findAll('option').map((o) => o.text());
    expect(options).toEqual(['elu (default)', 'gelu']);
    expect(wrapper.text()).toContain('Kernel φ');
    await wrapper.find('select').setValue('gelu');
    expect(wrapper.emitted('update:modelValue')?.[0]).toEqual(['gelu']);
  });

  it('a nullable number has an "auto" switch; turning it off gives the minimum', async () => {
    const spec = fieldOf('phiDim', { default: null, anyOf: [{ type: 'integer', minimum: 1, maximum: 4096 }, { type: 'null' }] });
    const wrapper = mount(SchemaField, { props: { spec, modelValue: null, idPrefix: 't' } });
    const number = wrapper.find('input[type="number"]');
    expect((number.element as HTMLInputElement).disabled).toBe(true);
    expect(wrapper.text()).toContain('(≥ 1, ≤ 4096)');
    await wrapper.find('input[type="checkbox"]').setValue(false);
    expect(wrapper.emitted('update:modelValue')?.[0]).toEqual([1]);
  });

  it('says what is wrong with an out-of-range value, naming the option', () => {
    const spec = fieldOf('rank', { default: 8, type: 'integer', minimum: 1, maximum: 1024 });
    const wrapper = mount(SchemaField, { props: { spec, modelValue: 0, idPrefix: 't' } });
    expect(wrapper.find('[role="alert"]').text()).toBe('Rank: at least 1');
    expect(wrapper.find('input').attributes('aria-invalid')).toBe('true');
  });

  it('a list is typed comma-separated and emitted parsed', async () => {
    const spec = fieldOf('layers', { default: null, anyOf: [{ type: 'array', items: { type: 'integer', minimum: 0 } }, { type: 'null' }] });
    const wrapper = mount(SchemaField, { props: { spec, modelValue: [], idPrefix: 't' } });
    await wrapper.find('input:not([type])').setValue('0, 2');
    expect(wrapper.emitted('update:modelValue')?.at(-1)).toEqual([[0, 2]]);
  });
});
