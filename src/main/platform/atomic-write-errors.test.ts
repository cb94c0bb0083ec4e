// A failed atomic write names the file being written (not our hidden temp file, not nothing), so the
// boundary's one line reads "<file>: the disk is full (ENOSPC)".
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatApiError } from '@shared/errors';
import { toErrorData } from './system-errors';
import { writeFileAtomic } from './atomic-write';

// A disk that fills up mid-write: FileHandle.writeFile rejects the way Node does, with no path in the error.
const disk = vi.hoisted(() => ({ full: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    open: async (...args: Parameters<typeof actual.open>) => {
      const handle = await actual.open(...args);
      if (!disk.full) return handle;
      return Object.assign(Object.create(Object.getPrototypeOf(handle)), handle, {
        writeFile: async () => {
          const err: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
          err.code = 'ENOSPC';
          err.errno = -28;
          err.syscall = 'write';
          throw err;
        },
        close: () => handle.close(),
      });
    },
  };
});

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-atomic-err-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('writeFileAtomic errors', () => {
  it('a full disk names the target file and leaves no temp file', async () => {
    const target = join(tmp, 'manifest.json');
    disk.full = true;
    const err = await writeFileAtomic(target, '{}').catch((e: unknown) => e);
    disk.full = false;
    expect(err).toMatchObject({ code: 'ENOSPC', path: target });
    expect(formatApiError(toErrorData(err))).toBe(`${target}: the disk is full (ENOSPC)`);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a missing folder names the target, not the hidden temp file', async () => {
    const target = join(tmp, 'gone', 'index.json');
    const err = await writeFileAtomic(target, '{}').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOENT', path: target });
    expect(formatApiError(toErrorData(err))).toBe(`${target}: no such file or folder (ENOENT)`);
  });
});
