// Serves the built renderer, to `prefixlab serve` (node:http) and to the Electron app:// protocol (a fetch
// Response, src/main/app/app-protocol.ts): only regular files whose real path lies under the folder, never a
// path or a symlink that escapes it.
import { createReadStream, promises as fs } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { ServerResponse } from 'node:http';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(file: string): string {
  return MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function isInside(root: string, target: string): boolean {
  const base = root.endsWith(sep) ? root : root + sep;
  return target === root || target.startsWith(base);
}

/** Resolves a URL path inside `root`; undefined when it would leave it. */
export function resolveInside(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const target = normalize(join(root, decoded));
  return isInside(root, target) ? target : undefined;
}

export type StaticLookup = { status: 200; file: string; size: number; contentType: string } | { status: 403 | 404; message: string };

/** Which file a URL path names under `root` ("/" is index.html), or why there is none. */
export async function lookupStatic(root: string, urlPath: string): Promise<StaticLookup> {
  const path = urlPath === '/' || urlPath === '' ? '/index.html' : urlPath;
  const file = resolveInside(root, path);
  if (!file) return { status: 403, message: 'forbidden' };
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([fs.realpath(file), fs.realpath(root)]);
  } catch {
    return { status: 404, message: 'not found' };
  }
  // The lexical check above cannot see symlinks: a link inside the folder may point anywhere.
  if (!isInside(realRoot, real)) return { status: 403, message: 'forbidden' };
  let stat;
  try {
    stat = await fs.stat(real);
  } catch {
    return { status: 404, message: 'not found' };
  }
  if (!stat.isFile()) return { status: 404, message: 'not found' };
  return { status: 200, file: real, size: stat.size, contentType: contentTypeOf(real) };
}

/** Answers one GET/HEAD from `root`; `headers` (the security headers) go on every status, 403 and 404 too. */
export async function serveStatic(root: string, urlPath: string, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const found = await lookupStatic(root, urlPath);
  if (found.status !== 200) {
    res.writeHead(found.status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(found.message);
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': found.contentType, 'Content-Length': String(found.size) });
  const stream = createReadStream(found.file);
  // A file that vanishes between stat and read must cost this response, never the server.
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
