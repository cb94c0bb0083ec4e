// What a method name looks like, and which names exist, for the API contract. The list itself is the engine's
// registry (src/main/engine/methods/registry.ts, served by methods.list): shared code cannot import the engine,
// so the registry declares each method here as it registers it. In a process that holds the registry (main, the
// CLI, the training process) the contract then refuses a name it lacks, naming the known ones; where no method was
// declared (the renderer) any name of the right shape passes and main checks it. A method added to the registry
// needs no contract change.
import { z } from 'zod';

/** Lower-case letters, digits and dashes, starting with a letter (it also prefixes `--set METHOD.key` and run ids). */
export const METHOD_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

const declared: string[] = [];

/** Called by the engine's registry for every method it holds, in list order. */
export function declareMethodName(name: string): void {
  if (!declared.includes(name)) declared.push(name);
}

export const MethodNameSchema = z
  .string()
  .regex(METHOD_NAME_PATTERN, 'a method name is lower-case letters, digits and dashes (see methods.list)')
  .superRefine((name, ctx) => {
    if (declared.length > 0 && !declared.includes(name)) ctx.addIssue({ code: 'custom', message: `unknown method "${name}" (known: ${declared.join(', ')})` });
  });
