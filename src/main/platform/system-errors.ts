// Node's system errors (ENOENT, EACCES, EROFS, ENOSPC, …) as one line a person can act on: the path and a
// plain cause, "<path>: the disk is full (ENOSPC)", as an ApiError. Every boundary (CLI, RPC dispatch, the
// worker processes) passes errors through toErrorData so no raw "ENOENT: no such file or directory, open …"
// (or one naming no file) reaches a user. Where the error code hides the real cause (mkdir on a read-only
// or special file system reports ENOENT), the nearest existing folder is probed and that cause reported.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ApiError, toApiErrorData, type ApiErrorData, type ErrorCode } from '@shared/errors';

/** A Node system error: an Error with a string `code` such as "ENOENT" (and usually syscall / path). */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  if (!(err instanceof Error) || err instanceof ApiError) return false;
  const e = err as NodeJS.ErrnoException;
  return typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && (typeof e.errno === 'number' || typeof e.syscall === 'string');
}

/** Per code: the ApiError code and the plain cause (the errno name is appended in parentheses). */
const CAUSES: Record<string, { code: ErrorCode | 'io_error'; cause: string }> = {
  ENOENT: { code: 'not_found', cause: 'no such file or folder' },
  ENOTDIR: { code: 'invalid_argument', cause: 'a part of the path is a file, not a folder' },
  EISDIR: { code: 'invalid_argument', cause: 'is a folder, expected a file' },
  EEXIST: { code: 'already_exists', cause: 'already exists' },
  ENOTEMPTY: { code: 'conflict', cause: 'the folder is not empty' },
  EACCES: { code: 'forbidden', cause: 'permission denied' },
  EPERM: { code: 'forbidden', cause: 'operation not permitted' },
  EROFS: { code: 'forbidden', cause: 'the file system is read-only' },
  ENOSPC: { code: 'io_error', cause: 'the disk is full' },
  EDQUOT: { code: 'io_error', cause: 'the disk quota is exhausted' },
  EFBIG: { code: 'io_error', cause: 'the file is too large for the file system' },
  EIO: { code: 'io_error', cause: 'input/output error: the disk or its connection failed' },
  EMFILE: { code: 'io_error', cause: 'too many open files in this process (raise the limit with ulimit -n)' },
  ENFILE: { code: 'io_error', cause: 'too many open files on this system' },
  ELOOP: { code: 'invalid_argument', cause: 'too many symbolic links (a symlink loop)' },
  ENAMETOOLONG: { code: 'invalid_argument', cause: 'the path or a name in it is too long' },
  EBUSY: { code: 'conflict', cause: 'busy: in use by another program' },
  ETXTBSY: { code: 'conflict', cause: 'busy: in use by another program' },
  EXDEV: { code: 'unsupported', cause: 'cannot be moved to another file system' },
  EINVAL: { code: 'invalid_argument', cause: 'not a valid target for this operation' },
  EAGAIN: { code: 'conflict', cause: 'temporarily unavailable; try again' },
  EADDRINUSE: { code: 'conflict', cause: 'the address is already in use (another program listens on this port)' },
  EADDRNOTAVAIL: { code: 'invalid_argument', cause: 'the address is not available on this machine' },
  ECONNREFUSED: { code: 'not_found', cause: 'connection refused' },
};

/** Node's own text without the "CODE: " prefix and the ", syscall 'path'" tail: the cause for unknown codes. */
function nodeCause(err: NodeJS.ErrnoException): string {
  const text = err.message.replace(/^E[A-Z0-9]+:\s*/, '').split(/\r?\n/)[0];
  const comma = text.indexOf(', ');
  return (comma > 0 ? text.slice(0, comma) : text) || 'system error';
}

/** The nearest folder at or above `path` that exists (bounded by the path's depth). */
function nearestExisting(path: string): string | null {
  let dir = resolve(path);
  for (let i = 0; i < 256; i++) {
    try {
      if (statSync(dir).isDirectory()) return dir;
    } catch {
      /* missing: go up */
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
  return null;
}

/** Why nothing can be created in `dir`: EROFS / EACCES from access(W_OK), or null when it looks writable. */
function unwritableCode(dir: string): string | null {
  try {
    accessSync(dir, constants.W_OK);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? null;
  }
}

const FOLDER_CAUSE: Record<string, string> = { EROFS: 'the folder is read-only', EACCES: 'permission denied', EPERM: 'operation not permitted' };

function make(code: string, path: string | undefined, cause: string, errno: string): ApiError {
  const apiCode = CAUSES[code]?.code ?? 'io_error';
  return new ApiError(apiCode, `${cause} (${errno})`, path ? { file: path } : {});
}

/**
 * A system error as an ApiError "<path>: <plain cause> (CODE)"; `path` names the file when the error does
 * not (writes through a file handle carry none). Anything that is not a system error is returned unchanged.
 */
export function fromSystemError(err: unknown, path?: string): unknown {
  if (!isSystemError(err)) return err;
  const code = err.code as string;
  const file = err.path ?? path ?? (err as { address?: string; port?: number }).address;
  const where = file && code.startsWith('EADDR') && (err as { port?: number }).port !== undefined ? `${file}:${(err as { port?: number }).port}` : file;

  // Creating something: a read-only or special file system, a missing parent. mkdir's ENOENT/EACCES and any
  // EROFS are reported on the nearest existing folder, with the cause access(W_OK) gives for it.
  if (where && (code === 'EROFS' || (err.syscall === 'mkdir' && (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM')))) {
    const parent = nearestExisting(dirname(where));
    if (parent !== null) {
      const refused = unwritableCode(parent);
      if (refused && FOLDER_CAUSE[refused]) return make(refused, parent, FOLDER_CAUSE[refused], refused);
      if (code === 'EROFS') return make(code, parent, FOLDER_CAUSE.EROFS, code);
      if (code === 'ENOENT') {
        const missing = resolve(where)
          .slice(parent.length)
          .replace(/^[\\/]+/, '')
          .split(/[\\/]/)[0];
        return parent === dirname(resolve(where))
          ? make('EPERM', where, `folders cannot be created in ${parent}`, code)
          : make(code, where, `the parent folder ${missing} does not exist in ${parent}`, code);
      }
    }
  }
  return make(code, where, CAUSES[code]?.cause ?? nodeCause(err), code);
}

/** toApiErrorData with system errors mapped first: what every boundary sends or prints. */
export function toErrorData(err: unknown, path?: string): ApiErrorData {
  return toApiErrorData(fromSystemError(err, path));
}

/** The plain cause alone ("the disk is full (ENOSPC)") for messages that name the file themselves; else the error's message. */
export function plainCause(err: unknown): string {
  const mapped = fromSystemError(err);
  return mapped instanceof Error ? mapped.message : String(mapped);
}
