// GET /api/adapters/<id>/<file>: the read-only route a remote client (`prefixlab adapters pull`, the desktop
// app's "Download adapter") fetches a finished adapter through. Which file an id names is decided by the lookup
// serve passes in (services/remote/adapter-files.ts: ids only, never paths); token and Host are checked before
// this, in http-server.ts.
import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';

export const ADAPTER_FILES_PREFIX = '/api/adapters/';

export type AdapterFileLookup = (id: string, file: string) => Promise<{ status: 200; path: string; size: number } | { status: 400 | 404; message: string }>;

function text(res: ServerResponse, status: number, headers: Record<string, string>, message: string): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(`${status}: ${message}\n`);
}

/** Answers a GET/HEAD under /api/adapters/. */
export async function serveAdapterFile(lookup: AdapterFileLookup, urlPath: string, method: string, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const parts = urlPath.slice(ADAPTER_FILES_PREFIX.length).split('/');
  if (parts.length !== 2) return text(res, 404, headers, `expected ${ADAPTER_FILES_PREFIX}<adapter id>/<file>`);
  let id: string;
  try {
    id = decodeURIComponent(parts[0]);
  } catch {
    return text(res, 400, headers, 'the adapter id is not valid URL encoding');
  }
  const found = await lookup(id, parts[1]);
  if (found.status !== 200) return text(res, found.status, headers, found.message);
  res.writeHead(200, {
    ...headers,
    'Content-Type': parts[1].endsWith('.json') ? 'application/json' : 'application/octet-stream',
    'Content-Length': String(found.size),
    'Cache-Control': 'no-store',
  });
  if (method === 'HEAD') return void res.end();
  const stream = createReadStream(found.path);
  // A file removed mid-read costs this response (the client sees a short body), never the server.
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
