// Which URLs the app window may show and which it may hand to the OS browser: pure functions (parsed with
// the WHATWG URL parser, never string prefixes) so the Electron policy is unit-tested without Electron.

/**
 * The window's own page: the same app:// (or file://) page, hash routes and queries aside, or in dev the dev
 * server's origin. app: and file: URLs have an opaque origin ("null" for every one of them), so they are
 * compared by scheme, host and path, never by origin.
 */
export function isAppUrl(url: string, appUrl: string): boolean {
  let target: URL;
  let app: URL;
  try {
    target = new URL(url);
    app = new URL(appUrl);
  } catch {
    return false;
  }
  if (app.protocol !== 'http:' && app.protocol !== 'https:') {
    return target.protocol === app.protocol && target.host === app.host && samePath(target.pathname, app.pathname);
  }
  return target.origin === app.origin;
}

function samePath(a: string, b: string): boolean {
  try {
    return decodeURIComponent(a) === decodeURIComponent(b);
  } catch {
    return false;
  }
}

/** Documentation links may open in the user's browser: https only, no credentials, a real host. */
export function isSafeExternalUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' && parsed.hostname !== '' && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}
