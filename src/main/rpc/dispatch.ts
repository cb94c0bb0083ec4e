// The one path every call takes, whatever the transport: validate the request against the contract,
// run the handler, validate the response, and wrap the outcome (or the error) in a CallResult envelope.
import { CALLS, isCallName, type Handlers } from '@shared/contract';
import type { CallResult } from '@shared/contract/client';
import { ApiError } from '@shared/errors';
import type { z } from 'zod';
import { toErrorData } from '../app/system-errors';

export type Dispatch = (name: string, request: unknown) => Promise<CallResult>;

/** "field.sub: message" for the first zod issue, so bad arguments name the field. */
export function describeZodError(error: z.ZodError): { field?: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { message: 'invalid value' };
  const field = issue.path.map(String).join('.') || undefined;
  return { field, message: field ? `${field}: ${issue.message}` : issue.message };
}

export function validateRequest(name: string, request: unknown): unknown {
  if (!isCallName(name)) throw new ApiError('not_found', `unknown call "${name}"`);
  const parsed = CALLS[name].request.safeParse(request ?? {});
  if (!parsed.success) {
    const { field, message } = describeZodError(parsed.error);
    throw new ApiError('invalid_argument', `${name}: ${message}`, { field });
  }
  return parsed.data;
}

export function createDispatcher<Ctx>(handlers: Handlers<Ctx>, ctx: Ctx): Dispatch {
  return async (name, request) => {
    try {
      const valid = validateRequest(name, request);
      const handler = handlers[name as keyof Handlers<Ctx>] as (req: unknown, ctx: Ctx) => Promise<unknown>;
      const result = await handler(valid, ctx);
      const checked = CALLS[name as keyof typeof CALLS].response.safeParse(result);
      if (!checked.success) {
        // A handler drifting from the contract is our bug, not the caller's: say so plainly.
        throw new ApiError('internal', `${name} returned a response that does not match the contract: ${describeZodError(checked.error).message}`);
      }
      return { ok: true, result: checked.data };
    } catch (err) {
      // System errors (ENOENT, ENOSPC…) become "<path>: <plain cause>", never Node's raw text.
      return { ok: false, error: toErrorData(err) };
    }
  };
}
