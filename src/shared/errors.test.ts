// One helper turns a failed zod parse into the ApiError a person reads: what was parsed, the field, the cause.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiError, describeZodIssue, zodIssueError } from './errors';

const Schema = z.object({ trainer: z.object({ batchSize: z.number().int().min(1) }) });

describe('zodIssueError', () => {
  it('names what was parsed, the field path and the first issue, and keeps the file', () => {
    const parsed = Schema.safeParse({ trainer: { batchSize: 0 } });
    expect(parsed.success).toBe(false);
    const err = zodIssueError(parsed.error!, 'bad_file', 'run manifest is invalid', { file: '/h/runs/x/manifest.json' });
    expect(err).toBeInstanceOf(ApiError);
    expect(err.toJSON()).toEqual({
      code: 'bad_file',
      message: expect.stringMatching(/^run manifest is invalid: trainer\.batchSize: .*>=\s*1/),
      file: '/h/runs/x/manifest.json',
      field: 'trainer.batchSize',
    });
  });

  it('an issue with the whole value has no field', () => {
    const parsed = z.number().safeParse('x');
    const err = zodIssueError(parsed.error!, 'invalid_argument', 'seed');
    expect(err.field).toBeUndefined();
    expect(err.message).toMatch(/^seed: /);
    expect(describeZodIssue(parsed.error!).field).toBeUndefined();
  });
});
