// The editable prompt/target templates: a small Mustache subset, chosen over Jinja so that what a person
// types is what they get (no block whitespace trimming). `{{ name }}` inserts a value; `{{#name}}…{{/name}}`
// keeps its body when the value is non-empty, `{{^name}}…{{/name}}` when it is empty. No Node imports.
import { ApiError } from '@shared/errors';

type TemplateNode = { kind: 'text'; text: string } | { kind: 'value'; name: string } | { kind: 'section'; name: string; inverted: boolean; body: TemplateNode[] };

export interface CompiledTemplate {
  source: string;
  /** Every name the template reads. */
  names: Set<string>;
  render(values: Record<string, unknown>): string;
}

const TAG = /\{\{\s*([#^/]?)\s*([^{}]*?)\s*\}\}/g;

/** Throws ApiError('invalid_argument', …, {field}) on unbalanced sections or stray braces. */
export function compileTemplate(source: string, field = 'template'): CompiledTemplate {
  const root: TemplateNode[] = [];
  const stack: { name: string; body: TemplateNode[] }[] = [{ name: '', body: root }];
  const names = new Set<string>();
  let last = 0;
  const fail = (message: string): never => {
    throw new ApiError('invalid_argument', `template: ${message}`, { field });
  };
  for (const m of source.matchAll(TAG)) {
    const text = source.slice(last, m.index);
    if (text.includes('{{') || text.includes('}}')) fail(`unbalanced braces near ${JSON.stringify(text.slice(0, 30))}`);
    if (text) stack[stack.length - 1].body.push({ kind: 'text', text });
    last = m.index + m[0].length;
    const [, sigil, name] = m;
    if (!name) fail('an empty {{ }} tag');
    if (sigil === '/') {
      const open = stack.pop();
      if (!open || stack.length === 0 || open.name !== name) fail(`{{/${name}}} closes ${open && stack.length > 0 ? `{{#${open.name}}}` : 'nothing'}`);
      continue;
    }
    names.add(name);
    if (sigil === '#' || sigil === '^') {
      const body: TemplateNode[] = [];
      stack[stack.length - 1].body.push({ kind: 'section', name, inverted: sigil === '^', body });
      stack.push({ name, body });
    } else {
      stack[stack.length - 1].body.push({ kind: 'value', name });
    }
  }
  const tail = source.slice(last);
  if (tail.includes('{{') || tail.includes('}}')) fail(`unbalanced braces near ${JSON.stringify(tail.slice(0, 30))}`);
  if (tail) root.push({ kind: 'text', text: tail });
  if (stack.length > 1) fail(`{{#${stack[stack.length - 1].name}}} is never closed`);
  return { source, names, render: (values) => renderNodes(root, values) };
}

function renderNodes(nodes: TemplateNode[], values: Record<string, unknown>): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'value') out += asText(values[node.name]);
    else if (isPresent(values[node.name]) !== node.inverted) out += renderNodes(node.body, values);
  }
  return out;
}

export function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function isPresent(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return asText(value).trim() !== '';
}
