// A RunSpec (src/shared/run-spec.ts) checked against the methods this process holds: the built-in ones with their
// typed options and any registered at run time (registerMethod). Defaults are filled in; the first bad field is
// named in one ApiError ("lora option: rank: …", "trainer option: batchSize: …", "run spec: data.path: …").
import { zodIssueError } from '@shared/errors';
import { runSpecSchema, TrainerSpecSchema, type RunSpec, type RunSpecInput } from '@shared/run-spec';
import { allMethods, getMethod } from '../methods/registry';
import { parseOptions } from './config';

export function parseRunSpec(input: RunSpecInput | RunSpec): RunSpec {
  const method = (input as { method?: { name?: unknown; options?: unknown } } | null)?.method;
  if (typeof method?.name === 'string') {
    // The method's and the trainer's options first, so their errors name the field as `--set` knows it.
    parseOptions(getMethod(method.name).options, method.options ?? {}, method.name);
    parseOptions(TrainerSpecSchema, (input as { trainer?: unknown }).trainer ?? {}, 'trainer');
  }
  const result = runSpecSchema(allMethods()).safeParse(input);
  if (!result.success) throw zodIssueError(result.error, 'invalid_argument', 'run spec');
  return result.data as RunSpec;
}
