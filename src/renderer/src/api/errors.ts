// Turns anything thrown by an api call into the one line a person should read (never a stack trace).
import { formatApiError, toApiErrorData } from '@shared/errors';

export function errorMessage(err: unknown): string {
  return formatApiError(toApiErrorData(err));
}
