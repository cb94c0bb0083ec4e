import { describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { compileTemplate } from './template';
import { DEFAULT_TEMPLATES } from './default-templates';

describe('templates', () => {
  it('inserts values and keeps sections only for non-empty values', () => {
    const t = compileTemplate('Q: {{ question }}{{#context}}\nC: {{context}}{{/context}}{{^context}} (no context){{/context}}\nA:');
    expect(t.render({ question: 'Why?', context: 'Because.' })).toBe('Q: Why?\nC: Because.\nA:');
    expect(t.render({ question: 'Why?', context: '  ' })).toBe('Q: Why? (no context)\nA:');
    expect([...t.names].sort()).toEqual(['context', 'question']);
  });

  it('writes numbers, booleans and objects as text, missing values as nothing', () => {
    expect(compileTemplate('{{n}}|{{b}}|{{o}}|{{missing}}').render({ n: 3, b: false, o: { a: 1 } })).toBe('3|false|{"a":1}|');
  });

  it.each([
    ['{{#a}}open', /never closed/],
    ['{{/a}}', /closes nothing/],
    ['{{#a}}x{{/b}}', /\{\{\/b\}\} closes \{\{#a\}\}/],
    ['{{ }}', /empty/],
    ['{{a}', /unbalanced/],
    ['a}} b', /unbalanced/],
  ])('rejects %j', (source, message) => {
    try {
      compileTemplate(source, 'template.prompt');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).field).toBe('template.prompt');
      expect((err as ApiError).message).toMatch(message);
    }
  });

  it('renders the Alpaca template with and without input', () => {
    const prompt = compileTemplate(DEFAULT_TEMPLATES.instruction.prompt);
    const withInput = prompt.render({ instruction: 'Translate.', input: 'Bonjour' });
    expect(withInput).toContain('paired with an input that provides further context. Write');
    expect(withInput.endsWith('### Instruction:\nTranslate.\n\n### Input:\nBonjour\n\n### Response:\n')).toBe(true);
    const without = prompt.render({ instruction: 'Say hi.', input: '' });
    expect(without).toBe(
      'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n',
    );
  });
});
