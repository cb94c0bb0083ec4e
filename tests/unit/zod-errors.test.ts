// Every place that parses with zod reports a failure the same way (one helper, src/shared/errors.ts): what
// was parsed, the field path in the message and in `field`, the file where there is one.
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiError } from '@shared/errors';
import { validateRequest } from '../../src/main/rpc/dispatch';
import { readManifest } from '../../src/main/datasets/store/dataset-folder';
import { RunsStore } from '../../src/main/registry/runs-store';

const root = join(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-zod-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    return err as ApiError;
  }
  throw new Error('expected a throw');
}

async function rejected(promise: Promise<unknown>): Promise<ApiError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: ApiError) => err,
  );
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|vue)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('one zod-error helper', () => {
  it('no source file outside src/shared/errors.ts reads zod issues itself', () => {
    const offenders = [...sources(join(root, 'src/main')), ...sources(join(root, 'src/shared')), ...sources(join(root, 'src/renderer'))]
      .filter((file) => !file.endsWith(join('src', 'shared', 'errors.ts')))
      .filter((file) => /\.issues\s*\[|\.issues\.(map|find|at)\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });

  it('a bad request names the call and the field', () => {
    const err = caught(() => validateRequest('models.remove', { id: 42 }));
    expect(err.toJSON()).toMatchObject({ code: 'invalid_argument', field: 'id', message: expect.stringMatching(/^models\.remove: id: /) });
  });

  it('a damaged dataset manifest names the file and the field', async () => {
    const dir = join(tmp, 'dataset');
    mkdirSync(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ id: 'x', name: 7 }));
    const err = await rejected(readManifest(dir));
    expect(err.toJSON()).toMatchObject({ code: 'bad_file', file: join(dir, 'manifest.json'), message: expect.stringMatching(/^unreadable dataset manifest: \w+: /) });
    expect(err.field).toBeTruthy();
  });

  it('an invalid run manifest names the file and the field', () => {
    const home = join(tmp, 'home');
    const runId = '20250301-120000-lora-beef';
    mkdirSync(join(home, 'runs', runId), { recursive: true });
    writeFileSync(join(home, 'runs', runId, 'manifest.json'), JSON.stringify({ runId, status: 'finished' }));
    const err = caught(() => new RunsStore(home).read(runId));
    expect(err.toJSON()).toMatchObject({ code: 'bad_file', file: join(home, 'runs', runId, 'manifest.json'), message: expect.stringMatching(/^run manifest is invalid: \w+: /) });
    expect(err.field).toBeTruthy();
  });
});
