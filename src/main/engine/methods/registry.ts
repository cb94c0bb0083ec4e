// Every PEFT method PrefixLab offers, by name, with its options schema as JSON Schema for the renderer's forms.
import { z } from 'zod';
import { ApiError } from '@shared/errors';
import { fullMethod } from './full';
import { loraMethod } from './lora';
import type { MethodDefinition, MethodName } from './method';
import { prefixMethod } from './prefix';
import { promptMethod } from './prompt';
import { ptplusMethod } from './ptplus';

const METHODS: readonly MethodDefinition[] = [ptplusMethod, prefixMethod, promptMethod, loraMethod, fullMethod];

export const METHOD_NAMES: readonly MethodName[] = METHODS.map((m) => m.name);

export function allMethods(): readonly MethodDefinition[] {
  return METHODS;
}

export function isMethodName(value: string): value is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(value);
}

/** The method called `name`; throws ApiError('not_found') listing the known ones. */
export function getMethod(name: string): MethodDefinition {
  const method = METHODS.find((m) => m.name === name);
  if (!method) throw new ApiError('not_found', `unknown method '${name}' (known: ${METHOD_NAMES.join(', ')})`, { field: 'method' });
  return method;
}

/**
 * Validates raw options (missing fields take their defaults); throws ApiError('invalid_argument') naming the
 * first bad field.
 */
export function parseMethodOptions(name: string, raw: unknown): Record<string, unknown> {
  const result = getMethod(name).options.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.join('.');
    throw new ApiError('invalid_argument', `${name} option ${field ? `${field}: ` : ''}${issue.message}`, { field: field || undefined });
  }
  return result.data as Record<string, unknown>;
}

/** JSON Schema (draft 2020-12) of a method's options, input side: fields with defaults are optional. */
export function methodOptionsJsonSchema(name: string): Record<string, unknown> {
  return z.toJSONSchema(getMethod(name).options, { io: 'input' }) as Record<string, unknown>;
}
