import { describe, expect, it } from 'vitest';
import { checkValue, fieldsOf, humanize, parseList } from './json-schema';

const ptplusLike = {
  type: 'object',
  properties: {
    featureMap: { default: 'elu', description: 'Kernel feature map', type: 'string', enum: ['elu', 'elu+1', 'gelu', 'mlp'] },
    phiDim: { default: null, description: 'd_φ (null: head_dim)', anyOf: [{ type: 'integer', minimum: 1, maximum: 4096 }, { type: 'null' }] },
    lambda: { default: 0.5, type: 'number', exclusiveMinimum: 0, maximum: 1 },
    layers: { default: null, anyOf: [{ type: 'array', items: { type: 'integer', minimum: 0, maximum: 9007199254740991 } }, { type: 'null' }] },
    rsLora: { default: false, type: 'boolean' },
    targets: {
      default: 'default',
      anyOf: [
        { type: 'string', enum: ['default', 'all-linear'] },
        { minItems: 1, type: 'array', items: { type: 'string' } },
      ],
    },
  },
};

describe('method options schema → form fields', () => {
  const fields = fieldsOf(ptplusLike);
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));

  it('maps each JSON Schema shape to the field that edits it', () => {
    expect(fields.map((f) => f.name)).toEqual(['featureMap', 'phiDim', 'lambda', 'layers', 'rsLora', 'targets']);
    expect(byName.featureMap).toMatchObject({ kind: 'enum', options: ['elu', 'elu+1', 'gelu', 'mlp'], default: 'elu', help: 'Kernel feature map' });
    expect(byName.phiDim).toMatchObject({ kind: 'number', isNullable: true, isInteger: true, minimum: 1, maximum: 4096 });
    expect(byName.lambda).toMatchObject({ kind: 'number', isInteger: false, exclusiveMinimum: 0, maximum: 1 });
    expect(byName.layers).toMatchObject({ kind: 'list', itemKind: 'number', isNullable: true });
    expect(byName.layers.maximum).toBeUndefined();
    expect(byName.rsLora.kind).toBe('boolean');
    expect(byName.targets).toMatchObject({ kind: 'enum-or-list', options: ['default', 'all-linear'] });
  });

  it('says what is wrong with a value using the schema limits', () => {
    expect(checkValue(byName.phiDim, null)).toBeNull();
    expect(checkValue(byName.phiDim, 0)).toBe('at least 1');
    expect(checkValue(byName.phiDim, 2.5)).toBe('enter a whole number');
    expect(checkValue(byName.lambda, 0)).toBe('more than 0');
    expect(checkValue(byName.lambda, 1)).toBeNull();
    expect(checkValue(byName.featureMap, 'relu')).toMatch(/one of elu/);
    expect(checkValue(byName.layers, [0, 'x'])).toMatch(/whole numbers/);
    expect(checkValue(byName.targets, ['q_proj'])).toBeNull();
    expect(checkValue(byName.targets, [])).toMatch(/at least one/);
  });

  it('parses comma lists and labels camelCase names', () => {
    expect(parseList('0, 2,4 ,', 'number')).toEqual([0, 2, 4]);
    expect(parseList('q_proj,v_proj', 'string')).toEqual(['q_proj', 'v_proj']);
    expect(humanize('numVirtualTokens')).toBe('Num virtual tokens');
  });
});
