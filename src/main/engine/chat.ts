// Formats a conversation with the model's own Jinja chat template (tokenizer_config.json's chat_template, or a
// GGUF file's tokenizer.chat_template), and reads a conversation from a JSON file (`generate --messages FILE`).
import { Template } from '@huggingface/jinja';
import { z } from 'zod';
import { ChatMessageSchema } from '@shared/contract/calls/models';
import { ApiError, zodIssueError } from '@shared/errors';
import { FILE_CAPS, readBoundedText } from './io/bounded-read';
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
  if (!tokenizer.chatTemplate) {
    throw new ApiError('unsupported', 'this model has no chat template (chat_template in tokenizer_config.json, or tokenizer.chat_template in a GGUF file)', {
      field: 'chat_template',
    });
  }
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

/** A conversation as the app's API takes it: 1 to 1,000 turns of {role: system|user|assistant, content}. */
const ChatFileSchema = z.array(ChatMessageSchema).min(1).max(1000);

/**
 * The conversation in the JSON file at `path` (a list of {role, content}), read with the size cap of JSON
 * files; a bad file or entry is refused in one line naming the file and the entry.
 */
export function readChatMessages(path: string): ChatMessage[] {
  const text = readBoundedText(path, FILE_CAPS.json);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ApiError('bad_file', `not valid JSON (${(err as Error).message.slice(0, 200)}); expected a list of {role, content}`, { file: path });
  }
  const parsed = ChatFileSchema.safeParse(data);
  if (!parsed.success) throw zodIssueError(parsed.error, 'bad_file', 'expected a list of 1 to 1000 {role: system|user|assistant, content}', { file: path });
  return parsed.data;
}
