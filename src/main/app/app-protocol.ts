// The app:// protocol the Electron window loads the renderer from (not file://, where a header CSP cannot be
// set and every local file shares one origin). A plain fetch-style handler, Request in and Response out,
// so it is tested without Electron; src/main/window.ts registers it with protocol.handle.
import { promises as fs } from 'node:fs';
import { lookupStatic } from '../server/static-files';
import { contentSecurityPolicy, securityHeaders } from '../server/security-headers';

export const APP_SCHEME = 'app';
export const APP_HOST = 'prefixlab';
/** The page the window loads; hash routes keep every view on this one URL. */
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** The largest renderer file served (the biggest chunk is about 1 MB); anything larger is not ours. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

/** The window talks to the main process over IPC, so the page may connect to nothing but its own origin. */
export const APP_CSP = contentSecurityPolicy();

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { ...securityHeaders(APP_CSP), 'Content-Type': 'text/plain; charset=utf-8' } });
}

/** Answers app://prefixlab/<path> from `rendererDir` only; CSP and nosniff on every response. */
export function createAppProtocolHandler(rendererDir: string): (request: Request) => Promise<Response> {
  return async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return text(400, 'bad request');
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return text(404, 'not found');
    if (request.method !== 'GET' && request.method !== 'HEAD') return text(405, 'method not allowed');
    const found = await lookupStatic(rendererDir, url.pathname);
    if (found.status !== 200) return text(found.status, found.message);
    if (found.size > MAX_FILE_BYTES) return text(403, 'forbidden');
    // readFile, not a stream: inside app.asar it is the call Electron checks against the asar integrity hashes.
    let body: Uint8Array | null = null;
    if (request.method === 'GET') {
      try {
        body = new Uint8Array(await fs.readFile(found.file));
      } catch {
        return text(404, 'not found'); // gone between the lookup and the read
      }
    }
    return new Response(body, {
      status: 200,
      headers: { ...securityHeaders(APP_CSP), 'Content-Type': found.contentType, 'Content-Length': String(found.size) },
    });
  };
}
