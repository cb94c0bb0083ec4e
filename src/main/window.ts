// The one app window, locked down: isolated, sandboxed, no Node, no navigation away from the app's own page,
// no new windows, no webviews, no permission grants, a strict CSP on every response. The same guards apply
// to any other webContents Electron might create (app.on('web-contents-created') in index.ts). The page comes
// from the app:// protocol (src/main/app/app-protocol.ts), never from file://.
import { BrowserWindow, protocol, session, shell, type WebContents } from 'electron';
import { APP_CSP, APP_SCHEME, APP_URL, createAppProtocolHandler } from './app/app-protocol';
import { isAppUrl, isSafeExternalUrl } from './app/url-policy';

/** The URL the window loads: app://prefixlab/index.html, or the dev server in `npm run dev`. */
export function appUrlOf(devUrl?: string): string {
  return devUrl ?? APP_URL;
}

/**
 * app:// as a standard, secure scheme (its own origin, fetch allowed, treated like https). Electron accepts
 * this only before the app is ready.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/** Serves app:// from the built renderer folder only (after ready). */
export function serveAppProtocol(rendererDir: string): void {
  protocol.handle(APP_SCHEME, createAppProtocolHandler(rendererDir));
}

/** Navigation, redirects, new windows and webviews: only the app's own page, ever. */
export function lockDownContents(contents: WebContents, appUrl: string): void {
  const stayHome = (event: { preventDefault(): void }, url: string): void => {
    if (!isAppUrl(url, appUrl)) event.preventDefault();
  };
  contents.on('will-navigate', stayHome);
  contents.on('will-redirect', stayHome);
  contents.setWindowOpenHandler(({ url }) => {
    // Links to documentation open in the user's browser; the app never opens a second window.
    if (isSafeExternalUrl(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

export function createMainWindow(preloadPath: string, devUrl?: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1360,
    height: 880,
    show: false,
    title: 'PrefixLab',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
    },
  });

  session.defaultSession.setPermissionRequestHandler((_contents, _permission, grant) => grant(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  session.defaultSession.setDevicePermissionHandler(() => false);
  session.defaultSession.webRequest.onHeadersReceived((details, done) => {
    done({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP] } });
  });

  const appUrl = appUrlOf(devUrl);
  lockDownContents(win.webContents, appUrl);
  win.once('ready-to-show', () => win.show());
  void win.loadURL(appUrl);
  return win;
}
