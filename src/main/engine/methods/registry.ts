// The method list, in one place: every PEFT method PrefixLab offers, by name, in the order the app and the CLI
// list them. methods.list, `--help`, the CLI's usage lines, the export's format checks and the renderer all
// derive from it; registerMethod adds one at run time (plugins, tests).
import { z } from 'zod';
import { ApiError, zodIssueError } from '@shared/errors';
import { declareMethodName, METHOD_NAME_PATTERN } from '@shared/methods/method-name';
import { fullMethod } from './full';
import { loraMethod } from './lora';
import type { MethodDefinition, MethodName, VirtualTokens } from './method';
import { prefixMethod } from './prefix';
import { promptMethod } from './prompt';
import { ptplusMethod } from './ptplus';

const BUILT_IN_METHODS: readonly MethodDefinition[] = [ptplusMethod, prefixMethod, promptMethod, loraMethod, fullMethod];

const METHODS: MethodDefinition[] = [...BUILT_IN_METHODS];
// The API contract checks method names against this list (see @shared/methods/method-name).
for (const m of METHODS) declareMethodName(m.name);

/** Every registered method's name, in list order; live (registerMethod appends). */
export const METHOD_NAMES: readonly MethodName[] = METHODS.map((m) => m.name);

/**
 * Adds a method to the list (after the built-in ones). Refuses a name that is taken or not of the API's shape,
 * and a definition whose options cannot be parsed from nothing (every option needs a default).
 */
export function registerMethod<D extends MethodDefinition>(definition: D): D {
  const method: MethodDefinition = definition;
  if (!METHOD_NAME_PATTERN.test(method.name)) {
    throw new ApiError('invalid_argument', `method name "${method.name}" must be lower-case letters, digits and dashes`, { field: 'name' });
  }
  if (METHODS.some((m) => m.name === method.name)) throw new ApiError('already_exists', `a method named ${method.name} is already registered`, { field: 'name' });
  if (!method.options.safeParse({}).success) throw new ApiError('invalid_argument', `method ${method.name}: every option needs a default`, { field: 'options' });
  METHODS.push(method);
  (METHOD_NAMES as MethodName[]).push(method.name);
  declareMethodName(method.name);
  return definition;
}

export function allMethods(): readonly MethodDefinition[] {
  return METHODS;
}

export function isMethodName(value: string): value is MethodName {
  return METHODS.some((m) => m.name === value);
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
  if (!result.success) throw zodIssueError(result.error, 'invalid_argument', `${name} option`);
  return result.data as Record<string, unknown>;
}

/** JSON Schema (draft 2020-12) of a method's options, input side: fields with defaults are optional. */
export function methodOptionsJsonSchema(name: string): Record<string, unknown> {
  return z.toJSONSchema(getMethod(name).options, { io: 'input' }) as Record<string, unknown>;
}

/** The virtual tokens these (parsed) options put in front of the input; none for methods without any. */
export function virtualTokensOf(name: string, options: Record<string, unknown>): VirtualTokens {
  return getMethod(name).virtualTokens?.(options as never) ?? { count: 0, placement: 'input' };
}
