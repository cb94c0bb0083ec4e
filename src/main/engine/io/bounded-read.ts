// The one way model files (and other files from user folders) are opened and read: only regular files, and
// never more bytes than a per-kind cap. A FIFO would block open()/read() forever and a symlink to /dev/zero
// never ends, so the file is opened non-blocking, fstat'ed on the descriptor (no race with a swapped path),
// and refused unless it is a regular file of plausible size. Symlinks to regular files are fine (HF caches).
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { ApiError } from '@shared/errors';

const MiB = 1024 * 1024;

/**
 * Size caps per kind of file (bytes), stated in docs/reliability.md. Real files are far smaller, except
 * tokenizer.json, which reaches ~35 MB for 250k-token vocabularies.
 */
export const FILE_CAPS = {
  /** config.json, generation_config.json, tokenizer_config.json, model.safetensors.index.json. */
  json: 16 * MiB,
  tokenizerJson: 64 * MiB,
  /** chat_template.jinja. */
  template: 1 * MiB,
  /** llama2.c tok512.bin / tokenizer.bin (a 32k vocabulary is ~0.5 MB). */
  llama2cTokenizer: 16 * MiB,
} as const;

// O_NONBLOCK does not exist on Windows (no FIFOs there to block on).
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isDirectory()) return 'a folder';
  return 'not a regular file';
}

/**
 * Opens `path` for reading if it is a regular file (after symlinks); returns the descriptor and size. Throws
 * ApiError not_found (missing / no permission) or bad_file (FIFO, device, socket, folder), naming the file.
 */
export function openRegularFile(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)' : `cannot be opened (${code ?? (err as Error).message})`;
    throw new ApiError(code === 'ENOENT' ? 'not_found' : 'bad_file', `${basename(path)} ${why}`, { file: path });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new ApiError('bad_file', `${basename(path)} is ${kindOf(stats)}, not a regular file; refusing to read it`, { file: path });
    return { fd, size: stats.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The whole of a regular file of at most `maxBytes` bytes (refused before reading when larger). */
export function readBoundedFile(path: string, maxBytes: number): Buffer {
  const { fd, size } = openRegularFile(path);
  try {
    if (size > maxBytes) throw tooLarge(path, size, maxBytes);
    // Read at most one byte past the cap: a file growing while we read is refused, not followed.
    const buffer = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let done = 0;
    for (;;) {
      const n = readSync(fd, buffer, done, buffer.length - done, done);
      if (n === 0) break;
      done += n;
      if (done > maxBytes) throw tooLarge(path, done, maxBytes);
      if (done === buffer.length) break;
    }
    return buffer.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

export function readBoundedText(path: string, maxBytes: number): string {
  return readBoundedFile(path, maxBytes).toString('utf8');
}

function tooLarge(path: string, size: number, maxBytes: number): ApiError {
  const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
  const far = size > maxBytes * 4 ? 'far ' : '';
  return new ApiError('bad_file', `${basename(path)} is ${far}larger than the ${mib(maxBytes)} this kind of file may have (${mib(size)}); refusing to read it`, {
    file: path,
  });
}
