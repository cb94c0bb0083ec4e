// Files as the pickers reach them: the folders served (headless), a folder's listing, the native dialog
// (desktop) and uploads of a dropped file into the app folder, sent to main in chunks (files.upload).
import { defineStore } from 'pinia';
import type { FolderListing } from '@shared/contract';
import { UPLOAD_CHUNK_BYTES, UPLOAD_MAX_BYTES } from '@shared/contract/calls/files';
import { api } from '../api';

export interface UploadProgress {
  sentBytes: number;
  totalBytes: number;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

export const useFilesStore = defineStore('files', () => {
  /** The folders the picker may browse (the served ones and the app's data folder). */
  async function roots(): Promise<{ path: string; label: string }[]> {
    return (await api.files.roots()).roots;
  }

  async function list(path: string): Promise<FolderListing> {
    return api.files.list({ path });
  }

  /** The OS dialog (desktop); null when the user cancelled. */
  async function pickNative(kind: 'file' | 'folder'): Promise<string | null> {
    return (await api.files.pickFile({ kind })).path;
  }

  /** Sends `file` in chunks and resolves to its path in <home>/uploads. */
  async function upload(file: File, onProgress: (p: UploadProgress) => void, signal?: AbortSignal): Promise<string> {
    if (file.size > UPLOAD_MAX_BYTES) {
      throw new Error(
        `${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MiB; the headless app accepts uploads up to ${UPLOAD_MAX_BYTES / 2 ** 20} MiB. ` +
          'Start serve with --root on its folder instead.',
      );
    }
    let uploadId: string | undefined;
    let offset = 0;
    do {
      if (signal?.aborted) throw new Error('upload cancelled');
      const end = Math.min(file.size, offset + UPLOAD_CHUNK_BYTES);
      const chunk = new Uint8Array(await file.slice(offset, end).arrayBuffer());
      const isLast = end >= file.size;
      const reply = await api.files.upload({ name: file.name, uploadId, offset, chunkBase64: toBase64(chunk), totalBytes: file.size, isLast });
      uploadId = reply.uploadId;
      offset = end;
      onProgress({ sentBytes: offset, totalBytes: file.size });
      if (isLast) {
        if (!reply.path) throw new Error('the server did not return the uploaded file’s path');
        return reply.path;
      }
    } while (offset <= file.size);
    throw new Error('upload ended early');
  }

  return { roots, list, pickNative, upload };
});
