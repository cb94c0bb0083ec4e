// Serve-mode access control: a random token printed at start, required on every HTTP request and
// WebSocket upgrade; compared in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'prefixlab_token';

export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokensEqual(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time independent of the guess.
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** The token a request carries: ?token=…, a Bearer header, or the cookie set on the first page load. */
export function tokenOf(req: IncomingMessage): string | undefined {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const fromQuery = url.searchParams.get('token');
  if (fromQuery) return fromQuery;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length);
  const cookies = req.headers.cookie ?? '';
  for (const part of cookies.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === TOKEN_COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

// Shared with the remote client (services/remote), which may not import the server.
export { isLoopbackHost } from '../platform/loopback';

/** Where the server listens: the --host it was given and the port it got. */
export interface BoundAddress {
  host: string;
  port: number;
}

/** A `host[:port]` authority (a Host header, an Origin's host), normalised by the WHATWG URL parser. */
export interface Authority {
  /** Lower-case; IPv6 in brackets, as in a URL. */
  hostname: string;
  port: number;
}

export function parseAuthority(value: string | undefined, scheme = 'http:'): Authority | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(`${scheme}//${value}/`);
  } catch {
    return undefined;
  }
  // Nothing but host and port: userinfo, a path or a fragment smuggled into the value is refused.
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
  return { hostname: url.hostname, port: Number(url.port || (scheme === 'https:' ? 443 : 80)) };
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '[::]']);
const IP_LITERAL = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[0-9a-f:.]+\])$/;

/**
 * Whether a request addressed to `authority` is meant for this server. DNS rebinding points a name the
 * attacker owns at 127.0.0.1, so the browser sends that name as Host (and Origin): only the loopback names,
 * the --host given and the bound port are accepted. Bound to a wildcard address (--allow-remote), any IP
 * literal is accepted too: an address cannot be rebound, only a name can.
 */
export function isAllowedAuthority(authority: Authority | undefined, bound: BoundAddress): boolean {
  if (!authority || authority.port !== bound.port) return false;
  const { hostname } = authority;
  if (hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]') return true;
  const given = parseAuthority(bound.host.includes(':') && !bound.host.startsWith('[') ? `[${bound.host}]` : bound.host);
  if (!given) return false;
  if (hostname === given.hostname) return true;
  return WILDCARD_HOSTS.has(given.hostname) && IP_LITERAL.test(hostname);
}

/** Every HTTP request and WebSocket upgrade must name this server in its Host header. */
export function isAllowedHost(hostHeader: string | undefined, bound: BoundAddress): boolean {
  return isAllowedAuthority(parseAuthority(hostHeader), bound);
}

/**
 * WebSocket upgrades must come from a page this server served (or from a non-browser client, which sends
 * no Origin): a foreign Origin means another site is trying to drive the local server. The Origin is held
 * to the same list as the Host header, never compared with the Host header itself (under DNS rebinding
 * both name the attacker's host).
 */
export function isAllowedOrigin(origin: string | undefined, bound: BoundAddress): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:') return false;
  return isAllowedAuthority(parseAuthority(parsed.host), bound);
}
