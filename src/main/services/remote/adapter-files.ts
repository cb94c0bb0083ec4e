// Which file GET /api/adapters/<id>/<file> (server/adapter-files.ts) may send: ids only, never paths. The id must be
// a registry id, the file one of the two an adapter is made of (labels stay local), and its real path must lie in
// <home>/adapters (a symlink out is refused); anything but a regular file is "no such adapter".
import { promises as fs } from 'node:fs';
import { join, sep } from 'node:path';
import { ADAPTER_TENSORS_FILE, MANIFEST_FILE, isValidId, kindDir } from '../../registry/layout';

/** The files of an adapter folder a remote client may read. */
export const PULLABLE_FILES: readonly string[] = [MANIFEST_FILE, ADAPTER_TENSORS_FILE];

export type AdapterFileLookup = { status: 200; path: string; size: number } | { status: 400 | 404; message: string };

export async function lookupAdapterFile(home: string, id: string, file: string): Promise<AdapterFileLookup> {
  if (!isValidId(id)) return { status: 400, message: `${JSON.stringify(String(id).slice(0, 140))} is not an adapter id` };
  if (!PULLABLE_FILES.includes(file)) return { status: 404, message: `an adapter has only ${PULLABLE_FILES.join(' and ')}` };
  const missing = { status: 404, message: `no adapter ${id} on this server` } as const;
  const root = kindDir(home, 'adapter');
  try {
    const [realRoot, real] = await Promise.all([fs.realpath(root), fs.realpath(join(root, id, file))]);
    if (!real.startsWith(realRoot + sep)) return missing;
    const stat = await fs.stat(real);
    return stat.isFile() ? { status: 200, path: real, size: stat.size } : missing;
  } catch {
    return missing;
  }
}
