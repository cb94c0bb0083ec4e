// `prefixlab serve`: one HTTP server on loopback that serves the built renderer and a WebSocket RPC
// endpoint (/rpc) carrying the same calls and events as Electron IPC. Every request must name this server
// in its Host header and carry the token; WebSocket upgrades must also come from its own Origin.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { generateToken, isAllowedAuthority, isAllowedHost, isAllowedOrigin, parseAuthority, tokenOf, tokensEqual, TOKEN_COOKIE, type BoundAddress } from './auth';
import { contentSecurityPolicy, securityHeaders } from './security-headers';
import { serveStatic } from './static-files';
import { ADAPTER_FILES_PREFIX, serveAdapterFile, type AdapterFileLookup } from './adapter-files';
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
  /** Concurrent connections (tests); MAX_CONNECTIONS otherwise. */
  maxConnections?: number;
  /** How long a connection may stay silent before it is closed (tests); IDLE_TIMEOUT_MS otherwise. */
  idleTimeoutMs?: number;
  /** Which file GET /api/adapters/<id>/<file> sends (a finished adapter's, for `adapters pull`); absent = no such route. */
  adapterFiles?: AdapterFileLookup;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  token: string;
  close(): Promise<void>;
}

/**
 * Concurrent TCP connections (HTTP and WebSocket together) served at once; one more is dropped on arrival.
 * A browser tab needs about 7 (6 HTTP/1.1 connections and the /rpc socket).
 */
export const MAX_CONNECTIONS = 64;
/** A connection that sends nothing for this long is closed. */
export const IDLE_TIMEOUT_MS = 10_000;

/** Headers for a response to `req`: its connect-src names the WebSocket origin the page reached us at. */
function headersFor(req: IncomingMessage, bound: BoundAddress): Record<string, string> {
  const authority = parseAuthority(req.headers.host);
  const own = authority && isAllowedAuthority(authority, bound) ? [`ws://${authority.hostname}:${authority.port}`] : [];
  return securityHeaders(contentSecurityPolicy({ connectSrc: own }));
}

function plain(res: ServerResponse, status: number, headers: Record<string, string>, text: string): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end(text);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? generateToken();
  // Known once listening; nothing is answered before that.
  let bound: BoundAddress = { host: options.host, port: options.port };

  const http = createServer(
    // A client trickling its request is cut off instead of holding one of the MAX_CONNECTIONS slots for good.
    { headersTimeout: 10_000, requestTimeout: 30_000 },
    (req: IncomingMessage, res: ServerResponse) => {
      const headers = headersFor(req, bound);
      // First the Host header: a DNS-rebound name reaching us on 127.0.0.1 is refused before anything else.
      if (!isAllowedHost(req.headers.host, bound)) {
        const asked = String(req.headers.host ?? '').slice(0, 100);
        plain(res, 421, headers, `421: this PrefixLab server answers only to 127.0.0.1, localhost or [::1] (or its --host) on port ${bound.port}, not "${asked}"\n`);
        return;
      }
      if (!tokensEqual(tokenOf(req), token)) {
        plain(res, 401, headers, '401: this PrefixLab server needs the token printed when it started (open the URL it printed)\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        plain(res, 405, headers, 'method not allowed\n');
        return;
      }
      const url = new URL(req.url ?? '/', 'http://localhost');
      // The first page load carries ?token=…; a strict same-site cookie lets the page's own assets load.
      if (url.searchParams.has('token')) {
        headers['Set-Cookie'] = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
      }
      if (options.adapterFiles && url.pathname.startsWith(ADAPTER_FILES_PREFIX)) {
        void serveAdapterFile(options.adapterFiles, url.pathname, req.method ?? 'GET', res, headers);
        return;
      }
      void serveStatic(options.rendererDir, url.pathname, res, headers);
    },
  );
  // Node drops (destroys) every connection over this many until one closes.
  http.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  // So is one that stays silent (headersTimeout only starts with the first byte). ws clears this timeout on
  // the sockets it upgrades, so an open /rpc socket may idle as long as it likes.
  http.setTimeout(options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  // A client that misbehaves at the socket level (resets, bad frames) must never take the server down.
  wss.on('error', () => undefined);
  http.on('clientError', (_err, socket) => socket.destroy());
  http.on('upgrade', (req, socket, head) => {
    // A reset while we refuse must not become an unhandled 'error'.
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: string) => {
      const lines = Object.entries(headersFor(req, bound)).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(`HTTP/1.1 ${status}\r\n${lines.join('')}Content-Length: 0\r\nConnection: close\r\n\r\n`);
      socket.destroy();
    };
    if (!isAllowedHost(req.headers.host, bound)) return refuse('421 Misdirected Request');
    if (url.pathname !== '/rpc') return refuse('404 Not Found');
    if (!tokensEqual(tokenOf(req), token)) return refuse('401 Unauthorized');
    if (!isAllowedOrigin(req.headers.origin, bound)) return refuse('403 Forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => attachRpc(ws, options.dispatch, options.events));
  });

  await new Promise<void>((resolveListen, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolveListen());
  });
  const port = (http.address() as AddressInfo).port;
  bound = { host: options.host, port };
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
