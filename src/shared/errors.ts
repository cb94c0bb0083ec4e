// The one error shape that crosses every boundary (IPC, WebSocket, CLI): a code a program can branch on,
// a message a person can read, and where in the user's input the problem sits.
import { z, type ZodError } from 'zod';

export const ApiErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  file: z.string().optional(),
  line: z.number().int().optional(),
  field: z.string().optional(),
});
export type ApiErrorData = z.infer<typeof ApiErrorSchema>;

/** Error codes used across services. New codes may be added; clients treat unknown ones as 'internal'. */
export type ErrorCode =
  'invalid_argument' | 'not_found' | 'already_exists' | 'bad_file' | 'unsupported' | 'out_of_memory' | 'cancelled' | 'conflict' | 'forbidden' | 'timeout' | 'internal';

export class ApiError extends Error {
  readonly code: ErrorCode | string;
  readonly file?: string;
  readonly line?: number;
  readonly field?: string;

  constructor(code: ErrorCode | string, message: string, where: { file?: string; line?: number; field?: string } = {}) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }

  toJSON(): ApiErrorData {
    const data: ApiErrorData = { code: this.code, message: this.message };
    if (this.file !== undefined) data.file = this.file;
    if (this.line !== undefined) data.line = this.line;
    if (this.field !== undefined) data.field = this.field;
    return data;
  }

  static from(data: ApiErrorData): ApiError {
    return new ApiError(data.code, data.message, data);
  }
}

/** Any thrown value as ApiErrorData; unknown errors become 'internal' with their message (never a stack). */
export function toApiErrorData(err: unknown): ApiErrorData {
  if (err instanceof ApiError) return err.toJSON();
  if (err && typeof err === 'object' && 'code' in err && 'message' in err && typeof (err as ApiErrorData).message === 'string') {
    const e = err as ApiErrorData;
    if (typeof e.code === 'string' && !e.code.startsWith('E')) return { code: e.code, message: e.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message };
}

/** One line for a terminal: "file:line: field: message". */
export function formatApiError(e: ApiErrorData): string {
  const where = [e.file, e.line !== undefined ? String(e.line) : undefined].filter(Boolean).join(':');
  const prefix = [where, e.field].filter(Boolean).join(': ');
  return prefix ? `${prefix}: ${e.message}` : e.message;
}

/**
 * The first issue of a failed zod parse as an ApiError: "<what>: field.sub: message", with `field` set, so bad
 * input names what is wrong and where. The one way a zod failure reaches a user (requests, options, files).
 */
export function zodIssueError(error: ZodError, code: ErrorCode | string, what: string, where: { file?: string; line?: number } = {}): ApiError {
  const { field, message } = describeZodIssue(error);
  return new ApiError(code, what ? `${what}: ${message}` : message, { ...where, ...(field ? { field } : {}) });
}

/** "field.sub: message" for the first zod issue (just the message when it concerns the whole value). */
export function describeZodIssue(error: ZodError): { field?: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { message: 'invalid value' };
  const field = issue.path.map(String).join('.') || undefined;
  return { field, message: field ? `${field}: ${issue.message}` : issue.message };
}
