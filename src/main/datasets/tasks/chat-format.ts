// Chat records → {prompt, target}. The final assistant turn is the target; everything before it is the
// prompt. With a model's chat_template (Jinja, rendered by @huggingface/jinja as transformers does) the
// prompt is the conversation so far with the generation prompt, and the target is what the full rendering
// adds after it (so end-of-turn tokens are trained too).
import { Template } from '@huggingface/jinja';
import { ApiError } from '@shared/errors';

export interface ChatMessage {
  role: string;
  content: string;
}

const SHAREGPT_ROLES: Record<string, string> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', system: 'system', bot: 'assistant' };

/** [{role, content}] or ShareGPT's [{from, value}] → messages; a message that is neither is a problem. */
export function parseMessages(value: unknown): { messages: ChatMessage[] } | { problem: string; kind: 'wrong_type' | 'empty_text' | 'missing_field' } {
  if (!Array.isArray(value)) return { kind: 'wrong_type', problem: `expected a list of messages, found ${value === null ? 'null' : typeof value}` };
  if (value.length === 0) return { kind: 'empty_text', problem: 'the conversation has no messages' };
  const messages: ChatMessage[] = [];
  for (let i = 0; i < value.length; i++) {
    const m = value[i] as Record<string, unknown> | null;
    const role = m && typeof m === 'object' ? (m.role ?? (typeof m.from === 'string' ? (SHAREGPT_ROLES[m.from] ?? m.from) : undefined)) : undefined;
    const content = m && typeof m === 'object' ? (m.content ?? m.value) : undefined;
    if (typeof role !== 'string' || typeof content !== 'string') {
      return { kind: 'wrong_type', problem: `message ${i + 1} needs string "role" and "content" (or "from" and "value")` };
    }
    messages.push({ role, content });
  }
  if (messages[messages.length - 1].role !== 'assistant') {
    return { kind: 'missing_field', problem: 'the conversation does not end with an assistant message to train on' };
  }
  return { messages };
}

export interface ChatFormatOptions {
  /** A model's chat_template (tokenizer_config.json); a plain "Role: text" format when absent. */
  chatTemplate?: string;
  bosToken?: string;
  eosToken?: string;
}

export class ChatFormatter {
  private readonly template?: Template;

  constructor(private readonly opts: ChatFormatOptions = {}) {
    if (opts.chatTemplate) {
      try {
        this.template = new Template(opts.chatTemplate);
      } catch (err) {
        throw new ApiError('invalid_argument', `chat template: ${(err as Error).message}`, { field: 'chatTemplate' });
      }
    }
  }

  /** Throws a plain Error when the chat template rejects the conversation (raise_exception). */
  format(messages: ChatMessage[]): { prompt: string; target: string } {
    const history = messages.slice(0, -1);
    const reply = messages[messages.length - 1];
    if (!this.template) {
      const prompt = history.map((m) => `${capitalise(m.role)}: ${m.content}\n`).join('') + 'Assistant:';
      return { prompt, target: ` ${reply.content}` };
    }
    const common = { bos_token: this.opts.bosToken ?? '', eos_token: this.opts.eosToken ?? '' };
    const prompt = this.template.render({ ...common, messages: history, add_generation_prompt: true });
    const full = this.template.render({ ...common, messages, add_generation_prompt: false });
    // Templates that render the reply differently from the generation prompt fall back to its content.
    return { prompt, target: full.startsWith(prompt) ? full.slice(prompt.length) : reply.content };
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
