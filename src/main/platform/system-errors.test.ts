// Real file-system errors (and, for what a root test process cannot provoke, errno objects shaped like
// Node's) become one line "<path>: <plain cause> (CODE)".
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, formatApiError } from '@shared/errors';
import { ensureFolder } from './ensure-folder';
import { fromSystemError, isSystemError, plainCause, toErrorData } from './system-errors';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-syserr-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function errno(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: raw text, ${syscall}${path ? ` '${path}'` : ''}`);
  err.code = code;
  err.errno = -1;
  err.syscall = syscall;
  if (path) err.path = path;
  return err;
}

const line = (err: unknown, path?: string): string => formatApiError(toErrorData(err, path));

describe('fromSystemError', () => {
  it("a missing file (ENOENT) names the file, without Node's raw text", () => {
    const missing = join(tmp, 'missing.csv');
    const err = caught(() => readFileSync(missing));
    expect(isSystemError(err)).toBe(true);
    expect(line(err)).toBe(`${missing}: no such file or folder (ENOENT)`);
    expect(toErrorData(err).code).toBe('not_found');
  });

  it('a file used as a folder (ENOTDIR) and a folder read as a file (EISDIR)', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(line(caught(() => readFileSync(join(file, 'inner.json'))))).toBe(`${join(file, 'inner.json')}: a part of the path is a file, not a folder (ENOTDIR)`);
    // Node's EISDIR from read names no path: the caller's path is used.
    expect(
      line(
        caught(() => readFileSync(tmp)),
        tmp,
      ),
    ).toBe(`${tmp}: is a folder, expected a file (EISDIR)`);
  });

  it('an existing folder (EEXIST) and a symlink loop (ELOOP)', async () => {
    const dir = join(tmp, 'exists');
    mkdirSync(dir);
    expect(line(caught(() => mkdirSync(dir)))).toBe(`${dir}: already exists (EEXIST)`);
    const { symlinkSync } = await import('node:fs');
    const loop = join(tmp, 'loop');
    symlinkSync(loop, loop);
    expect(line(caught(() => readFileSync(loop)))).toBe(`${loop}: too many symbolic links (a symlink loop) (ELOOP)`);
  });

  it('a name too long (ENAMETOOLONG)', () => {
    const long = join(tmp, 'x'.repeat(300));
    expect(line(caught(() => readFileSync(long)))).toBe(`${long}: the path or a name in it is too long (ENAMETOOLONG)`);
  });

  it('a full disk during a write through a handle (no path in the error) names the file given', async () => {
    const file = join(tmp, 'out.bin');
    const handle = await open(file, 'w');
    await handle.close();
    const err = errno('ENOSPC', 'write');
    expect(line(err, file)).toBe(`${file}: the disk is full (ENOSPC)`);
    expect(toErrorData(err, file).code).toBe('io_error');
    expect(line(errno('EDQUOT', 'write', file))).toBe(`${file}: the disk quota is exhausted (EDQUOT)`);
  });

  it('a read-only file system (EROFS) names the folder that is read-only', () => {
    const home = join(tmp, 'ro-home');
    mkdirSync(home);
    expect(line(errno('EROFS', 'mkdir', join(home, 'runs')))).toBe(`${home}: the folder is read-only (EROFS)`);
    expect(line(errno('EROFS', 'open', join(home, 'index.json')))).toBe(`${home}: the folder is read-only (EROFS)`);
  });

  it('permission errors and unknown codes keep the path and a plain cause', () => {
    expect(line(errno('EACCES', 'open', '/x/data.csv'))).toBe('/x/data.csv: permission denied (EACCES)');
    expect(line(errno('EMFILE', 'open', '/x/a'))).toMatch(/^\/x\/a: too many open files .*\(EMFILE\)$/);
    const odd = errno('EWEIRD', 'read', '/x/b');
    odd.message = "EWEIRD: something odd happened, read '/x/b'";
    expect(line(odd)).toBe('/x/b: something odd happened (EWEIRD)');
  });

  it('a port in use names the address', () => {
    const err = Object.assign(errno('EADDRINUSE', 'listen'), { address: '127.0.0.1', port: 8080 });
    expect(line(err)).toBe('127.0.0.1:8080: the address is already in use (another program listens on this port) (EADDRINUSE)');
  });

  it('leaves ApiErrors and plain errors alone', () => {
    const api = new ApiError('bad_file', 'broken', { file: '/f' });
    expect(fromSystemError(api)).toBe(api);
    const plain = new Error('boom');
    expect(fromSystemError(plain)).toBe(plain);
    expect(plainCause(errno('ENOSPC', 'write'))).toBe('the disk is full (ENOSPC)');
  });
});

describe('ensureFolder', () => {
  it('creates missing levels and returns the absolute path', () => {
    const dir = join(tmp, 'a', 'b', 'c');
    expect(ensureFolder(dir)).toBe(dir);
    expect(ensureFolder(dir)).toBe(dir);
  });

  it('a file in the way is named', () => {
    const file = join(tmp, 'blocker');
    writeFileSync(file, 'x');
    expect(line(caught(() => ensureFolder(join(file, 'home'))))).toBe(`${file}: is in the path but is not a folder`);
    expect(line(caught(() => ensureFolder(file)))).toBe(`${file}: exists but is not a folder`);
  });

  it.runIf(process.platform === 'linux')('where mkdir answers ENOENT under an existing folder (/proc), says folders cannot be created there, without hanging', () => {
    const err = caught(() => ensureFolder('/proc/prefixlab-no-such/home'));
    expect(line(err)).toMatch(/^\/proc(\/prefixlab-no-such)?: (folders cannot be created in \/proc \(ENOENT\)|.*\((EACCES|EPERM|EROFS)\))$/);
  });
});
