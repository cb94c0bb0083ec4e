// A normalised record → {prompt, target} through the task's template (or the chat formatter): the same
// function gives the UI's live preview and the stored examples.
import { ROLES_BY_TASK, type FieldMapping, type PromptTemplate, type TaskKind } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { ChatFormatter, type ChatFormatOptions } from './chat-format';
import { defaultTemplate } from './default-templates';
import type { LabelResolver } from './labels';
import type { NormalisedRecord } from './normalise-record';
import { asText, compileTemplate, type CompiledTemplate } from './template';

export interface RenderOptions extends ChatFormatOptions {
  task: TaskKind;
  mapping: FieldMapping;
  template?: PromptTemplate;
  labels: LabelResolver;
  /** Column names a template may also read (besides the roles). */
  columns?: string[];
}

/** Names every template can read besides roles and columns. */
const EXTRA_NAMES = ['label_name', 'final_answer'];

export class ExampleRenderer {
  readonly template: PromptTemplate | null;
  private readonly prompt?: CompiledTemplate;
  private readonly target?: CompiledTemplate;
  private readonly system?: CompiledTemplate;
  private readonly chat?: ChatFormatter;
  /** A template with chat: true wraps its rendering in the chat formatter (classification through a chat model). */
  private readonly wrap?: ChatFormatter;

  /** Throws ApiError('invalid_argument') for a template that does not parse or reads unknown names. */
  constructor(private readonly opts: RenderOptions) {
    if (opts.task === 'chat') {
      this.template = null;
      this.chat = new ChatFormatter(opts);
      return;
    }
    this.template = opts.template ?? defaultTemplate(opts.task);
    this.prompt = compileTemplate(this.template!.prompt, 'template.prompt');
    this.target = compileTemplate(this.template!.target, 'template.target');
    if (this.template!.system) this.system = compileTemplate(this.template!.system, 'template.system');
    if (this.template!.chat) this.wrap = new ChatFormatter(opts);
    const { required, optional } = ROLES_BY_TASK[opts.task];
    const roles = [...required, ...optional];
    const known = new Set<string>([...roles, ...EXTRA_NAMES, ...(opts.columns ?? [])]);
    const compiledTemplates: [CompiledTemplate, string][] = [
      [this.prompt, 'template.prompt'],
      [this.target, 'template.target'],
    ];
    if (this.system) compiledTemplates.push([this.system, 'template.system']);
    for (const [compiled, field] of compiledTemplates) {
      for (const name of compiled.names) {
        if (!known.has(name) && opts.columns) {
          throw new ApiError('invalid_argument', `template reads {{${name}}}, which is neither a role (${roles.join(', ')}) nor a column`, { field });
        }
      }
    }
  }

  /** Throws a plain Error when a chat template rejects the conversation. */
  render(record: NormalisedRecord): { prompt: string; target: string } {
    if (this.chat) return this.chat.format(record.messages ?? []);
    const values: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(record.values)) values[column] = asText(value);
    Object.assign(values, record.roles);
    if (record.label !== undefined) {
      values.label = this.opts.labels.verbalise(record.label);
      values.label_name = record.label;
    }
    values.final_answer = record.finalAnswer ?? '';
    const prompt = this.prompt!.render(values);
    const target = this.target!.render(values);
    if (!this.wrap) return { prompt, target };
    // The reply is the target without the leading space a plain "Label:" prompt wants; the chat template adds
    // the end-of-turn tokens, so the model is trained (and scored) to answer with the label and stop.
    const system = this.system?.render(values) ?? '';
    return this.wrap.format([...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: prompt }, { role: 'assistant', content: target.trim() }]);
  }
}
