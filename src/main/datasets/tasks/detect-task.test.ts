import { describe, expect, it } from 'vitest';
import { detectTask } from './detect-task';

const rows = (n: number, make: (i: number) => Record<string, unknown>): Record<string, unknown>[] => Array.from({ length: n }, (_, i) => make(i));

describe('detectTask', () => {
  it.each([
    [['sentence', 'label'], { task: 'classification', mapping: { text: 'sentence', label: 'label' } }],
    [['sentence1', 'sentence2', 'label', 'idx'], { task: 'classification', mapping: { text: 'sentence1', text2: 'sentence2', label: 'label' } }],
    [['question', 'answer'], { task: 'completion', mapping: { prompt: 'question', completion: 'answer' } }],
    [['mr', 'ref'], { task: 'completion', mapping: { prompt: 'mr', completion: 'ref' } }],
    [['prompt', 'completion'], { task: 'completion', mapping: { prompt: 'prompt', completion: 'completion' } }],
    [['instruction', 'input', 'output'], { task: 'instruction', mapping: { instruction: 'instruction', input: 'input', output: 'output' } }],
    [['messages'], { task: 'chat', mapping: { messages: 'messages' } }],
    [['coarse', 'fine', 'text'], { task: 'classification', mapping: { text: 'text', label: 'coarse' } }],
    [['text'], { task: 'text', mapping: { text: 'text' } }],
  ])('names %j → %j', (columns, expected) => {
    expect(detectTask({ columns, sample: [] })).toEqual(expected);
  });

  it('finds label and text by their values in header-less files', () => {
    const sample = rows(60, (i) => ({ column1: `a long description of news item number ${i}`, column2: ['World', 'Sports', 'Business'][i % 3] }));
    expect(detectTask({ columns: ['column1', 'column2'], sample })).toEqual({ task: 'classification', mapping: { text: 'column1', label: 'column2' } });
  });

  it('lets an explicit task and mapping win, filling only the gaps', () => {
    expect(detectTask({ columns: ['question', 'answer'], sample: [], task: 'text', map: { text: 'answer' } })).toEqual({ task: 'text', mapping: { text: 'answer' } });
    expect(detectTask({ columns: ['sentence', 'label', 'topic'], sample: [], map: { label: 'topic' } })).toEqual({
      task: 'classification',
      mapping: { text: 'sentence', label: 'topic' },
    });
  });

  it('explains what it could not find', () => {
    const result = detectTask({ columns: ['a', 'b', 'c'], sample: rows(5, () => ({ a: 1, b: 2, c: 3 })) });
    expect(result).toEqual({ problem: expect.stringMatching(/cannot tell the task.*a, b, c/) });
    expect(detectTask({ columns: ['x'], sample: [], task: 'classification' })).toEqual({ problem: expect.stringMatching(/no column for .*label/) });
  });
});
