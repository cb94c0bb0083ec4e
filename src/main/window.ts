// The one app window, locked down: isolated, sandboxed, no Node, no navigation, no new windows,
// no permission grants, a strict CSP on every response.
import { BrowserWindow, session, shell } from 'electron';
import { join } from 'node:path';
import { CONTENT_SECURITY_POLICY } from './server/http-server';

export function createMainWindow(preloadPath: string, rendererDir: string, devUrl?: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1360,
    height: 880,
    show: false,
    title: 'PrefixLab',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });

  session.defaultSession.setPermissionRequestHandler((_contents, _permission, grant) => grant(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  session.defaultSession.webRequest.onHeadersReceived((details, done) => {
    done({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });

  const appUrl = devUrl ?? `file://${join(rendererDir, 'index.html')}`;
  win.webContents.on('will-navigate', (event, url) => {
    if (!url.startsWith(devUrl ?? 'file://')) event.preventDefault();
  });
  win.webContents.setWindowOpenHandler(({ url }) => {
    // Links to documentation open in the user's browser; the app never opens a second window.
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());
  win.once('ready-to-show', () => win.show());
  void win.loadURL(appUrl);
  return win;
}
