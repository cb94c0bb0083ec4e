// Tests of bad GGUF input all ask the same thing of an error: an ApiError whose printed form is one line that
// names the file and shows no raw system error or stack frame.
import { expect } from 'vitest';
import { ApiError, formatApiError } from '@shared/errors';

/** The ApiError `promise` rejects with, checked to be one line that names `path`. */
export async function oneLineError(promise: Promise<unknown>, path: string): Promise<ApiError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  const line = formatApiError((err as ApiError).toJSON());
  expect(line).not.toContain('\n');
  expect(line).toContain(path);
  expect(line).not.toMatch(/ENOENT|EISDIR|at .*\.ts:\d+/);
  return err as ApiError;
}

/** The printed line of oneLineError. */
export async function oneLine(promise: Promise<unknown>, path: string): Promise<string> {
  return formatApiError((await oneLineError(promise, path)).toJSON());
}
