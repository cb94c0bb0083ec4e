// `prefixlab serve`: one HTTP server on loopback that serves the built renderer and a WebSocket RPC
// endpoint (/rpc) carrying the same calls and events as Electron IPC. Every request needs the token.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { generateToken, isAllowedOrigin, tokenOf, tokensEqual, TOKEN_COOKIE } from './auth';
import { serveStatic } from './static-files';
import { attachRpc, MAX_MESSAGE_BYTES } from './ws-rpc';
import type { Dispatch } from '../rpc/dispatch';
import type { EventBus } from '../rpc/event-bus';

export interface ServerOptions {
  host: string;
  port: number;
  /** Folder of the built renderer (out/renderer). */
  rendererDir: string;
  dispatch: Dispatch;
  events: EventBus;
  /** Fixed token (tests); a random one is generated otherwise. */
  token?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  token: string;
  close(): Promise<void>;
}

/** Same policy as the renderer's meta tag, also sent as a header so it holds for every response. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self'; connect-src 'self' ws://127.0.0.1:* ws://localhost:*; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? generateToken();
  let port = options.port;

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!tokensEqual(tokenOf(req), token)) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end('401: this PrefixLab server needs the token printed when it started (open the URL it printed)\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, SECURITY_HEADERS).end('method not allowed');
      return;
    }
    const headers = { ...SECURITY_HEADERS };
    // The first page load carries ?token=…; a strict same-site cookie lets the page's own assets load.
    if (url.searchParams.has('token')) {
      headers['Set-Cookie'] = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    }
    void serveStatic(options.rendererDir, url.pathname, res, headers);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  // A client that misbehaves at the socket level (resets, bad frames) must never take the server down.
  wss.on('error', () => undefined);
  http.on('clientError', (_err, socket) => socket.destroy());
  http.on('upgrade', (req, socket, head) => {
    // A reset while we refuse must not become an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: string) => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    };
    if (url.pathname !== '/rpc') return refuse('404 Not Found');
    if (!tokensEqual(tokenOf(req), token)) return refuse('401 Unauthorized');
    if (!isAllowedOrigin(req.headers.origin, req.headers.host, port)) return refuse('403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => attachRpc(ws, options.dispatch, options.events));
  });

  await new Promise<void>((resolveListen, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolveListen());
  });
  port = (http.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostForUrl}:${port}/?token=${token}`,
    port,
    host: options.host,
    token,
    close: () =>
      new Promise<void>((done) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.close(() => done());
        http.closeAllConnections();
      }),
  };
}
