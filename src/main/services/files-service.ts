// The headless file browser and drop target: lists folders inside the allowed roots (never outside) and
// writes dropped files into <home>/uploads, chunk by chunk, with a size limit.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, parse } from 'node:path';
import { ApiError } from '@shared/errors';
import { UPLOAD_CHUNK_BYTES, UPLOAD_MAX_BYTES, type FileEntry, type FolderListing } from '@shared/contract/calls/files';
import type { PathGuard } from '../platform/path-guard';

/** Entries one listing returns at most (a folder of a million files must not freeze the UI). */
const MAX_ENTRIES = 2000;
/** Uploads not finished within this time are dropped with their partial file. */
const UPLOAD_IDLE_MS = 10 * 60 * 1000;

interface PendingUpload {
  name: string;
  partPath: string;
  receivedBytes: number;
  totalBytes: number;
  touchedAt: number;
}

export interface UploadChunk {
  name: string;
  uploadId?: string;
  offset: number;
  chunkBase64: string;
  totalBytes: number;
  isLast: boolean;
}

export class FilesService {
  private readonly uploads = new Map<string, PendingUpload>();

  constructor(
    private readonly home: string,
    private readonly paths: PathGuard,
    private readonly maxUploadBytes = UPLOAD_MAX_BYTES,
  ) {}

  get uploadDir(): string {
    return join(this.home, 'uploads');
  }

  roots(): { path: string; label: string }[] {
    const home = this.paths.check(this.home, 'home');
    return this.paths.allowedRoots().map((path) => ({ path, label: path === home ? `${basename(path)} (app data)` : basename(path) || path }));
  }

  async list(path: string): Promise<FolderListing> {
    const real = this.paths.check(path, 'path');
    let info;
    try {
      info = await stat(real);
    } catch {
      throw new ApiError('not_found', 'folder does not exist', { file: path, field: 'path' });
    }
    if (!info.isDirectory()) throw new ApiError('invalid_argument', 'not a folder', { file: path, field: 'path' });
    const dirents = await readdir(real, { withFileTypes: true });
    const visible = dirents.filter((d) => !d.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
    const entries: FileEntry[] = [];
    for (const dirent of visible.slice(0, MAX_ENTRIES)) {
      const full = join(real, dirent.name);
      try {
        const s = await stat(full); // follows symlinks; the guard decides below whether the target may be shown
        this.paths.check(full);
        if (s.isDirectory()) entries.push({ name: dirent.name, path: full, kind: 'dir', modifiedAt: s.mtime.toISOString() });
        else if (s.isFile()) entries.push({ name: dirent.name, path: full, kind: 'file', bytes: s.size, modifiedAt: s.mtime.toISOString() });
      } catch {
        // Broken links and links leading out of the roots are simply not shown.
      }
    }
    entries.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'dir' ? -1 : 1));
    return { path: real, parent: this.parentInsideRoots(real), entries, truncated: visible.length > MAX_ENTRIES };
  }

  async upload(chunk: UploadChunk): Promise<{ uploadId: string; receivedBytes: number; path: string | null }> {
    this.dropStaleUploads();
    const name = safeFileName(chunk.name);
    if (chunk.totalBytes > this.maxUploadBytes) {
      throw new ApiError(
        'invalid_argument',
        `${name} is ${mib(chunk.totalBytes)}; uploads are limited to ${mib(this.maxUploadBytes)} (run the desktop app or pass --root to read it in place)`,
        { field: 'totalBytes' },
      );
    }
    const bytes = Buffer.from(chunk.chunkBase64, 'base64');
    if (bytes.length > UPLOAD_CHUNK_BYTES) throw new ApiError('invalid_argument', `a chunk may hold at most ${UPLOAD_CHUNK_BYTES} bytes`, { field: 'chunkBase64' });
    let id = chunk.uploadId;
    let pending: PendingUpload | undefined;
    if (id === undefined) {
      if (chunk.offset !== 0) throw new ApiError('invalid_argument', 'the first chunk must start at offset 0', { field: 'offset' });
      id = randomBytes(12).toString('hex');
      await mkdir(this.uploadDir, { recursive: true });
      pending = { name, partPath: join(this.uploadDir, `.${id}.part`), receivedBytes: 0, totalBytes: chunk.totalBytes, touchedAt: Date.now() };
      this.uploads.set(id, pending);
    } else {
      pending = this.uploads.get(id);
      if (!pending) throw new ApiError('not_found', 'this upload expired or was never started; drop the file again', { field: 'uploadId' });
    }
    if (chunk.offset !== pending.receivedBytes) {
      throw new ApiError('invalid_argument', `expected the chunk at offset ${pending.receivedBytes}, got ${chunk.offset}`, { field: 'offset' });
    }
    if (pending.receivedBytes + bytes.length > pending.totalBytes) {
      await this.abort(id);
      throw new ApiError('invalid_argument', 'the file is larger than its announced size', { field: 'chunkBase64' });
    }
    await appendFile(pending.partPath, bytes);
    pending.receivedBytes += bytes.length;
    pending.touchedAt = Date.now();
    if (!chunk.isLast) return { uploadId: id, receivedBytes: pending.receivedBytes, path: null };
    if (pending.receivedBytes !== pending.totalBytes) {
      await this.abort(id);
      throw new ApiError('invalid_argument', `received ${pending.receivedBytes} of ${pending.totalBytes} bytes`, { field: 'isLast' });
    }
    this.uploads.delete(id);
    const target = freeName(this.uploadDir, pending.name);
    await rename(pending.partPath, target);
    return { uploadId: id, receivedBytes: pending.receivedBytes, path: target };
  }

  private parentInsideRoots(real: string): string | null {
    const parent = dirname(real);
    if (parent === real) return null;
    if (this.paths.allowedRoots().includes(real)) return null;
    try {
      return this.paths.check(parent);
    } catch {
      return null;
    }
  }

  private async abort(id: string): Promise<void> {
    const pending = this.uploads.get(id);
    this.uploads.delete(id);
    if (pending) await rm(pending.partPath, { force: true });
  }

  private dropStaleUploads(): void {
    const now = Date.now();
    for (const [id, pending] of this.uploads) if (now - pending.touchedAt > UPLOAD_IDLE_MS) void this.abort(id);
  }
}

/** The last path component, with characters no file system likes replaced. */
export function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base
    // Control characters are exactly what this replaces.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f<>:"|?*]/g, '_')
    .replace(/^\.+/, '')
    .trim();
  if (!cleaned) throw new ApiError('invalid_argument', 'the file has no usable name', { field: 'name' });
  return cleaned.slice(0, 200);
}

/** dir/name, or dir/name (2).ext … when taken. */
function freeName(dir: string, name: string): string {
  const { name: stem } = parse(name);
  const ext = extname(name);
  let candidate = join(dir, name);
  for (let n = 2; existsSync(candidate); n++) candidate = join(dir, `${stem} (${n})${ext}`);
  return candidate;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
