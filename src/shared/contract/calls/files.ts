// files.*: choosing files to import. Electron asks the OS dialog (files.pickFile); the headless app browses
// the folders given to `prefixlab serve --root` (files.roots/list) or receives a dropped file (files.upload).
import { z } from 'zod';
import { call } from '../define';

export const FileEntrySchema = z.object({
  name: z.string(),
  /** Absolute path, usable in any call that takes a file path. */
  path: z.string(),
  kind: z.enum(['file', 'dir']),
  /** Size of a file in bytes; absent for folders. */
  bytes: z.number().int().optional(),
  /** ISO time of the last change. */
  modifiedAt: z.string().optional(),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

export const FolderListingSchema = z.object({
  path: z.string(),
  /** The folder above, or null at a root (the browser never leaves the roots). */
  parent: z.string().nullable(),
  /** Folders first, then files, each alphabetically; hidden entries (dot files) left out. */
  entries: z.array(FileEntrySchema),
  /** True when the folder held more than the listing limit and entries were cut. */
  truncated: z.boolean(),
});
export type FolderListing = z.infer<typeof FolderListingSchema>;

export const FileRootSchema = z.object({ path: z.string(), label: z.string() });

/** Bytes one upload call may carry (base64 grows it by a third; the WebSocket limit is 4 MiB a message). */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;
/** The largest file the headless app accepts by upload. */
export const UPLOAD_MAX_BYTES = 256 * 1024 * 1024;

export const filesCalls = {
  'files.roots': call(
    z.object({}).strict(),
    z.object({ roots: z.array(FileRootSchema) }),
    'Folders the file browser may show: the serve roots, the home folder, and folders picked in dialogs.',
  ),
  'files.list': call(
    z.object({ path: z.string().describe('an absolute folder path inside a root') }).strict(),
    FolderListingSchema,
    'List one folder inside the allowed roots (throws forbidden outside them).',
  ),
  'files.upload': call(
    z
      .object({
        /** File name as dropped (the folder part is ignored). */
        name: z.string().min(1).max(255),
        /** Id returned by the first chunk's call; absent on the first chunk. */
        uploadId: z
          .string()
          .regex(/^[0-9a-f]{16,64}$/)
          .optional(),
        /** Byte offset of this chunk; chunks arrive in order. */
        offset: z.number().int().min(0),
        /** At most UPLOAD_CHUNK_BYTES bytes, base64-encoded. */
        chunkBase64: z.string().max(Math.ceil((UPLOAD_CHUNK_BYTES * 4) / 3) + 4),
        /** Total size of the file, checked against UPLOAD_MAX_BYTES up front. */
        totalBytes: z.number().int().min(0),
        isLast: z.boolean(),
      })
      .strict(),
    z.object({ uploadId: z.string(), receivedBytes: z.number().int(), path: z.string().nullable() }),
    'Write a dropped file into <home>/uploads chunk by chunk; the last chunk returns its path.',
  ),
  'files.pickFile': call(
    z
      .object({
        kind: z.enum(['file', 'folder']).default('file'),
        title: z.string().optional(),
        /** e.g. [{ name: 'Datasets', extensions: ['jsonl', 'csv'] }] */
        filters: z.array(z.object({ name: z.string(), extensions: z.array(z.string()) })).optional(),
      })
      .strict(),
    z.object({ path: z.string().nullable() }),
    'Ask the OS file dialog for a file or folder (desktop only; the headless app answers unsupported). null = cancelled.',
  ),
};
