// Which URLs the app window may show and which it may hand to the OS browser: pure functions (parsed with
// the WHATWG URL parser, never string prefixes) so the Electron policy is unit-tested without Electron.

/** The window's own page: the same file (hash routes and queries aside), or in dev the dev server's origin. */
export function isAppUrl(url: string, appUrl: string): boolean {
  let target: URL;
  let app: URL;
  try {
    target = new URL(url);
    app = new URL(appUrl);
  } catch {
    return false;
  }
  if (app.protocol === 'file:') return target.protocol === 'file:' && target.host === app.host && decodeURIComponent(target.pathname) === decodeURIComponent(app.pathname);
  return target.origin === app.origin;
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
