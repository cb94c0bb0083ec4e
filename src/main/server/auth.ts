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

export function isLoopbackHost(host: string): boolean {
  // 127.0.0.0/8 as a dotted quad only: "127.evil.example" is a name anyone can point anywhere.
  return host === '::1' || host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * WebSocket upgrades must come from the page we served (or from a non-browser client, which sends no
 * Origin): a foreign Origin means another site is trying to drive the local server.
 */
export function isAllowedOrigin(origin: string | undefined, hostHeader: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:') return false;
  if (Number(parsed.port || 80) !== port) return false;
  if (isLoopbackHost(parsed.hostname.replace(/^\[|\]$/g, ''))) return true;
  return hostHeader !== undefined && parsed.host === hostHeader;
}
