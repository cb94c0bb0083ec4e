// The option tables `train --help` and `compare --help` print: each method's options and the trainer's, with
// type, limits and default, read from the same JSON Schema the app's forms are drawn from (never restated).
import { z } from 'zod';
import { allMethods, methodOptionsJsonSchema } from '../engine/methods/registry';
import { trainerOptions } from '@shared/trainer-options';

type Schema = Record<string, unknown>;

/** "integer 1…1024", "elu|gelu", "boolean", "list of string", joined with "or" across a union. */
function typeOf(schema: Schema): string {
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(typeOf).join(' or ');
  if (Array.isArray(schema.enum)) return schema.enum.map(String).join('|');
  if (schema.type === 'array') return `list of ${typeOf((schema.items as Schema | undefined) ?? {})}`;
  if (schema.type === 'integer' || schema.type === 'number') {
    const low =
      typeof schema.minimum === 'number' && schema.minimum > Number.MIN_SAFE_INTEGER
        ? `${schema.minimum}`
        : typeof schema.exclusiveMinimum === 'number'
          ? `>${schema.exclusiveMinimum}`
          : '';
    const high =
      typeof schema.maximum === 'number' && schema.maximum < Number.MAX_SAFE_INTEGER
        ? `${schema.maximum}`
        : typeof schema.exclusiveMaximum === 'number'
          ? `<${schema.exclusiveMaximum}`
          : '';
    return low || high ? `${schema.type} ${low}…${high}` : String(schema.type);
  }
  return String(schema.type ?? 'value');
}

/** One line per property: name, type and limits, default, help. */
function optionLines(schema: Schema, indent: string): string[] {
  const properties = Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {});
  const width = Math.max(0, ...properties.map(([name]) => name.length));
  return properties.map(([name, prop]) => {
    const help = typeof prop.description === 'string' ? ` — ${prop.description}` : '';
    return `${indent}${name.padEnd(width)}  ${typeOf(prop)}, default ${JSON.stringify(prop.default)}${help}`;
  });
}

/** Every method's options (set with --set key=value), then the trainer's. */
export function methodOptionsHelp(): string {
  const lines = ['Method options (--set key=value; compare also takes --set METHOD.key=value):'];
  for (const method of allMethods()) {
    lines.push(`  ${method.name} (${method.label}; learning rate ${method.defaultLearningRate}):`);
    const options = optionLines(methodOptionsJsonSchema(method.name), '    ');
    lines.push(...(options.length > 0 ? options : ['    (no options)']));
  }
  lines.push('', 'Trainer options (--set key=value; train.key=value when a method has an option of that name):');
  lines.push(...optionLines(z.toJSONSchema(trainerOptions, { io: 'input' }) as Schema, '  '));
  return lines.join('\n');
}
