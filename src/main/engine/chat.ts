// Formats a conversation with the model's own Jinja chat template (tokenizer_config.json's chat_template).
import { Template } from '@huggingface/jinja';
import { ApiError } from '@shared/errors';
import type { TextTokenizer } from './io/tokenizer';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/**
 * The prompt text for `messages`. The result already holds any BOS the template writes, so encode it
 * with addSpecialTokens: false (as transformers' apply_chat_template does).
 */
export function formatChat(tokenizer: TextTokenizer, messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
  if (!tokenizer.chatTemplate) throw new ApiError('unsupported', 'this model has no chat_template in tokenizer_config.json', { field: 'chat_template' });
  let template: Template;
  try {
    template = new Template(tokenizer.chatTemplate);
  } catch (err) {
    throw new ApiError('bad_file', `chat_template does not parse: ${(err as Error).message}`, { field: 'chat_template' });
  }
  return template.render({
    messages,
    bos_token: tokenizer.bosToken ?? '',
    eos_token: tokenizer.eosToken ?? '',
    add_generation_prompt: opts.addGenerationPrompt ?? true,
  });
}
