// The one Content-Security-Policy of the app and the headers sent with it. Used by `prefixlab serve` (every
// HTTP response), by the Electron app:// protocol (every response) and, through a Vite plugin in
// electron.vite.config.ts, by the <meta> tag of the built index.html. Plain data, no Node or Electron: the
// build config imports it too.

export interface CspOptions {
  /**
   * Extra connect-src sources beyond 'self'. Serve mode adds its own WebSocket origin (ws://HOST:PORT,
   * exactly as the page reached it); the Electron window talks over IPC and adds nothing.
   */
  connectSrc?: readonly string[];
  /** For a <meta> tag: frame-ancestors is ignored there (and logged as an error), so it is left out. */
  forMeta?: boolean;
}

export function contentSecurityPolicy(options: CspOptions = {}): string {
  const directives: [string, string[]][] = [
    ['default-src', ["'self'"]],
    ['script-src', ["'self'"]],
    // Vue's :style bindings and ECharts set inline styles; scripts stay 'self' only.
    ['style-src', ["'self'", "'unsafe-inline'"]],
    ['img-src', ["'self'", 'data:']],
    ['font-src', ["'self'"]],
    ['connect-src', ["'self'", ...(options.connectSrc ?? [])]],
    ['object-src', ["'none'"]],
    ['base-uri', ["'none'"]],
    ['form-action', ["'none'"]],
  ];
  if (!options.forMeta) directives.push(['frame-ancestors', ["'none'"]]);
  return directives.map(([name, sources]) => `${name} ${sources.join(' ')}`).join('; ');
}

/** Headers every response carries, whatever its status (200, 401, 403, 404, 405, 421). */
export function securityHeaders(csp: string = contentSecurityPolicy()): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}
