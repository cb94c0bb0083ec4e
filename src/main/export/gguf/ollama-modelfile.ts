// An Ollama Modelfile for a GGUF export (https://github.com/ollama/ollama/blob/main/docs/modelfile.md): FROM the
// base GGUF, ADAPTER the LoRA beside it, TEMPLATE and PARAMETER stop from the base's chat template and end
// tokens, plus the one command that registers it. Ollama's templates are Go templates, not Jinja, so a Jinja
// chat template cannot be carried over as it is: a ChatML one (<|im_start|>role … <|im_end|>) becomes Ollama's
// ChatML template; any other is left out with a comment saying so (Ollama then uses the base's as it reads it).
import type { GgufFile } from '../../engine/io/gguf/gguf-file';

export const MODELFILE = 'Modelfile';
export const EXPORT_README = 'README.txt';

/** Ollama's ChatML template, as its library models (e.g. qwen2) write it for Messages. */
export const CHATML_GO_TEMPLATE = `{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
`;

export interface ModelfileParts {
  /** Absolute path of the base GGUF. */
  from: string;
  /** Relative to the Modelfile (Ollama resolves it against the Modelfile's folder), e.g. ./adapter.gguf. */
  adapter?: string;
  /** Go template, or null with the reason for leaving it out. */
  template: { text: string } | { omitted: string };
  stops: string[];
  /** First line comment: what this is. */
  comment: string;
}

/** Whether a Jinja chat template is ChatML: turns opened by <|im_start|>ROLE and closed by <|im_end|>. */
export function isChatMl(template: string): boolean {
  return template.includes('<|im_start|>') && template.includes('<|im_end|>');
}

/** The template and end tokens the base GGUF file gives an Ollama model. */
export function modelfileChat(file: GgufFile): Pick<ModelfileParts, 'template' | 'stops'> {
  const jinja = file.metadata['tokenizer.chat_template'];
  const tokens = file.metadata['tokenizer.ggml.tokens'];
  const stops: string[] = [];
  for (const key of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const id = file.metadata[key];
    const text = typeof id === 'number' && Array.isArray(tokens) ? tokens[id] : undefined;
    if (typeof text === 'string' && text !== '' && !stops.includes(text)) stops.push(text);
  }
  let template: ModelfileParts['template'];
  if (typeof jinja !== 'string' || jinja === '') template = { omitted: 'the base GGUF file has no chat template (tokenizer.chat_template)' };
  else if (isChatMl(jinja)) {
    template = { text: CHATML_GO_TEMPLATE };
    if (!stops.includes('<|im_end|>')) stops.push('<|im_end|>');
  } else template = { omitted: 'the base chat template is Jinja and not ChatML; Ollama needs a Go template, so none is written here' };
  return { template, stops };
}

/** A Modelfile string is written in double quotes; these token texts never need more than \" and \\ escaped. */
function quoted(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function modelfileText(parts: ModelfileParts): string {
  const lines = [`# ${parts.comment}`, `FROM ${parts.from}`];
  if (parts.adapter) lines.push(`ADAPTER ${parts.adapter}`);
  if ('text' in parts.template) lines.push(`TEMPLATE """${parts.template.text}"""`);
  else lines.push(`# No TEMPLATE: ${parts.template.omitted}.`);
  for (const stop of parts.stops) lines.push(`PARAMETER stop ${quoted(stop)}`);
  return `${lines.join('\n')}\n`;
}

/** `ollama create NAME -f Modelfile` with NAME made of what Ollama accepts (lower-case letters, digits, . _ -). */
export function ollamaCommand(name: string, modelfilePath: string): string {
  const safe =
    name
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[-._]+|[-._]+$/g, '') || 'prefixlab-model';
  const path = /^[A-Za-z0-9_./-]+$/.test(modelfilePath) ? modelfilePath : `'${modelfilePath.replace(/'/g, `'\\''`)}'`;
  return `ollama create ${safe} -f ${path}`;
}
