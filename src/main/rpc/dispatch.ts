// The one path every call takes, whatever the transport: validate the request against the contract,
// run the handler, validate the response, and wrap the outcome (or the error) in a CallResult envelope.
import { CALLS, isCallName, type Handlers } from '@shared/contract';
import type { CallResult } from '@shared/contract/client';
import { ApiError, describeZodIssue, zodIssueError } from '@shared/errors';
import { toErrorData } from '../platform/system-errors';

export type Dispatch = (name: string, request: unknown) => Promise<CallResult>;

export function validateRequest(name: string, request: unknown): unknown {
  if (!isCallName(name)) throw new ApiError('not_found', `unknown call "${name}"`);
  const parsed = CALLS[name].request.safeParse(request ?? {});
  if (!parsed.success) throw zodIssueError(parsed.error, 'invalid_argument', name);
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
        throw new ApiError('internal', `${name} returned a response that does not match the contract: ${describeZodIssue(checked.error).message}`);
      }
      return { ok: true, result: checked.data };
    } catch (err) {
      // System errors (ENOENT, ENOSPC…) become "<path>: <plain cause>", never Node's raw text.
      return { ok: false, error: toErrorData(err) };
    }
  };
}
