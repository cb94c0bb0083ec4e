// Where a remote `prefixlab serve` is and how to reach it: the URL a person typed (http(s):// or ws(s)://),
// checked and split into the HTTP base and the /rpc WebSocket URL. Plain http/ws is refused unless the host
// is this machine (an SSH tunnel ends on loopback), because the token would cross the network in clear.
import { ApiError } from '@shared/errors';
import { isLoopbackHost } from '../../platform/loopback';

export interface RemoteEndpoint {
  /** Origin only: "https://gpu-box.example:8443". Never carries the token. */
  httpBase: string;
  /** The WebSocket endpoint: "wss://gpu-box.example:8443/rpc". */
  rpcUrl: string;
  /** "gpu-box.example:8443": what the header shows. */
  label: string;
  secure: boolean;
}

const MAX_URL = 2048;
const MAX_TOKEN = 512;

export function parseRemoteUrl(raw: string, field = 'url'): RemoteEndpoint {
  const text = raw.trim();
  if (!text) throw new ApiError('invalid_argument', 'give the remote server URL, e.g. https://gpu-box.example or http://127.0.0.1:8765 through an SSH tunnel', { field });
  if (text.length > MAX_URL) throw new ApiError('invalid_argument', `the remote URL is longer than ${MAX_URL} characters`, { field });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ApiError('invalid_argument', `"${text.slice(0, 100)}" is not a URL (expected https://HOST[:PORT] or wss://HOST[:PORT])`, { field });
  }
  const scheme = url.protocol;
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(scheme)) {
    throw new ApiError('invalid_argument', `a remote PrefixLab is reached over https:// or wss://, not ${scheme}//`, { field });
  }
  // The token is given separately; a URL with credentials or a query would end up in logs and history.
  if (url.username || url.password || url.search || url.hash) {
    throw new ApiError('invalid_argument', 'give the remote URL without user, password, ?query or #fragment (the token has its own field)', { field });
  }
  const secure = scheme === 'https:' || scheme === 'wss:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!secure && !isLoopbackHost(host)) {
    throw new ApiError(
      'forbidden',
      `${scheme}//${url.host} is plain, unencrypted traffic to another machine: use https:// or wss:// (TLS through a reverse proxy) or an SSH tunnel (ssh -L 8765:127.0.0.1:8765 HOST, then http://127.0.0.1:8765); see docs/remote.md`,
      { field },
    );
  }
  // A reverse proxy may serve PrefixLab under a path prefix: keep it, without a trailing slash.
  const prefix = url.pathname.replace(/\/+$/, '');
  const httpScheme = secure ? 'https:' : 'http:';
  const wsScheme = secure ? 'wss:' : 'ws:';
  return {
    httpBase: `${httpScheme}//${url.host}${prefix}`,
    rpcUrl: `${wsScheme}//${url.host}${prefix}/rpc`,
    label: `${url.host}${prefix}`,
    secure,
  };
}

/** The token the remote printed when it started; checked for shape only (the server decides). */
export function checkRemoteToken(raw: unknown, field = 'token'): string {
  const token = typeof raw === 'string' ? raw.trim() : '';
  if (!token) throw new ApiError('invalid_argument', 'give the token the remote `prefixlab serve` printed (the part after ?token= in its URL)', { field });
  if (token.length > MAX_TOKEN || !/^[\x21-\x7e]+$/.test(token)) {
    throw new ApiError('invalid_argument', `the token must be at most ${MAX_TOKEN} printable characters without spaces`, { field });
  }
  return token;
}

/** Node's codes for a TLS certificate it does not trust (undici and ws report the same ones). */
const UNTRUSTED_CERT = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One line for a failed connection: refused, an untrusted certificate (with the fix), or the system's cause. */
export function describeConnectError(code: string | undefined, message: string): string {
  if (code === 'ECONNREFUSED') return 'connection refused (is `prefixlab serve` running there, and the tunnel up?)';
  if (code && UNTRUSTED_CERT.has(code)) {
    return `its TLS certificate is not trusted (${message || code}): use a certificate from a public CA (Caddy gets one), or start the app with NODE_EXTRA_CA_CERTS=ca.pem`;
  }
  return message || code || 'unknown error';
}
