// The template each task starts with; people edit them in the UI. Targets begin with a space where the
// prompt ends in a colon, so word-level tokenisers see " positive" as they would in running text.
import type { PromptTemplate, TaskKind } from '@shared/contract/datasets';

const ALPACA_PROMPT =
  'Below is an instruction that describes a task{{#input}}, paired with an input that provides further context{{/input}}. ' +
  'Write a response that appropriately completes the request.\n\n### Instruction:\n{{instruction}}\n\n' +
  '{{#input}}### Input:\n{{input}}\n\n{{/input}}### Response:\n';

/** Chat datasets have no entry: they render through the model's chat template (or a plain role format). */
export const DEFAULT_TEMPLATES: Record<Exclude<TaskKind, 'chat'>, PromptTemplate> = {
  classification: { prompt: '{{text}}{{#text2}}\n{{text2}}{{/text2}}\nLabel:', target: ' {{label}}' },
  completion: { prompt: '{{prompt}}\n', target: '{{completion}}' },
  // Alpaca's own two prompts (with and without input), as one template.
  instruction: { prompt: ALPACA_PROMPT, target: '{{output}}' },
  // Language modelling: nothing is masked, the whole text is trained.
  text: { prompt: '', target: '{{text}}' },
};

export function defaultTemplate(task: TaskKind): PromptTemplate | null {
  return task === 'chat' ? null : DEFAULT_TEMPLATES[task];
}
