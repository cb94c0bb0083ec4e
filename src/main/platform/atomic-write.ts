// Crash-safe file replacement for the registry: a reader sees the old file or the new one, never half of
// either. Write a temp file beside the target, fsync it, rename it over the target, then fsync the folder
// so the rename itself survives a power cut.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode for a newly created file (default 0o644). */
  mode?: number;
}

/**
 * Test seam for a full disk: with PREFIXLAB_INJECT_ENOSPC set to comma-separated substrings, a write whose
 * target path contains one of them fails with ENOSPC after part of the data is written, exactly where a
 * full disk would fail it. Never set outside tests (`npm run fuzz -- crash`, tests/unit/crash-safety.test.ts).
 */
export function injectedWriteFault(path: string): NodeJS.ErrnoException | null {
  const spec = process.env.PREFIXLAB_INJECT_ENOSPC;
  if (!spec || !spec.split(',').some((part) => part !== '' && path.includes(part))) return null;
  const err: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, write '${path}'`);
  err.code = 'ENOSPC';
  err.errno = -28;
  err.syscall = 'write';
  err.path = path;
  return err;
}

/**
 * Replace `path` atomically with what `fill` writes through the handle of a same-folder temp file, which is then
 * fsynced and renamed over `path` (and the folder fsynced). On any failure the temp file is removed and the
 * error names `path`. `fill` may stream (large exports); it receives the injected-fault seam's error, if any,
 * to raise after writing part of its data.
 */
export async function writeAtomicWith(
  path: string,
  fill: (handle: FileHandle, fault: NodeJS.ErrnoException | null) => Promise<void>,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  // Same folder: rename is only atomic within one file system.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx', opts.mode ?? 0o644);
    await fill(handle, injectedWriteFault(path));
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    // A write through a handle (ENOSPC, EIO) names no file and open/rename name our hidden temp file: name
    // the file being written, so the one-line message (platform/system-errors.ts) says which write failed.
    const e = err as NodeJS.ErrnoException;
    if (typeof e?.code === 'string' && (e.path === undefined || e.path === tmp)) e.path = path;
    throw err;
  }
  await fsyncDir(dir);
}

/** Replace `path` with `data` atomically (same-folder temp file + fsync + rename + folder fsync). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeAtomicWith(
    path,
    async (handle, fault) => {
      if (fault) {
        await handle.writeFile(typeof data === 'string' ? data.slice(0, data.length >> 1) : data.subarray(0, data.length >> 1));
        throw fault;
      }
      await handle.writeFile(data);
    },
    opts,
  );
}

/** JSON with two-space indent and a final newline, written atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Flush a folder's entries (renames, creations). Windows cannot open folders for fsync; there NTFS's
 * journal already orders the rename, so the failure is ignored. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
}
