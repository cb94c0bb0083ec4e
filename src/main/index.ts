// Electron main: app lifecycle, the window and the IPC binding. Every service is the same one
// `prefixlab serve` hosts; nothing here computes anything.
import { app, BrowserWindow, dialog, utilityProcess } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAppContext } from './app/context';
import { electronLauncher } from './platform/process-launcher';
import { resolveHome } from './app/home';
import { createDispatcher } from './rpc/dispatch';
import { handlers } from './handlers';
import { bindIpc, forwardEvents } from './ipc/bind';
import { routeToRemoteWhenConnected } from './app/remote-routing';
import { appUrlOf, createMainWindow, lockDownContents, registerAppScheme, serveAppProtocol } from './window';
import { isAppUrl } from './app/url-policy';

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const here = dirname(fileURLToPath(import.meta.url));

app.enableSandbox();
// app:// must be declared privileged before ready; the window loads app://prefixlab/index.html from it.
registerAppScheme();

// Every webContents, not only the main window's (a devtools-opened page, a future view), gets the same
// navigation, new-window and webview guards.
app.on('web-contents-created', (_event, contents) => lockDownContents(contents, appUrlOf(process.env.ELECTRON_RENDERER_URL)));

void app.whenReady().then(() => {
  const home = resolveHome(argValue('--home'), app.getPath('userData'));
  // Training processes start as utility processes: child_process.fork needs the RunAsNode fuse, which is off.
  const ctx = createAppContext({ home, shell: 'electron', launcher: electronLauncher(utilityProcess) });
  let win: BrowserWindow | undefined;
  // The native file dialog: whatever the user picks there becomes readable by later calls (files.pickFile).
  ctx.dialogs = {
    async pickFile({ kind, title, filters }) {
      const options = { title, filters, properties: [kind === 'folder' ? ('openDirectory' as const) : ('openFile' as const)] };
      const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
  };
  serveAppProtocol(join(here, '../renderer'));
  const appUrl = appUrlOf(process.env.ELECTRON_RENDERER_URL);
  // While Settings' "Remote PrefixLab" is connected, calls go to that server (app/remote-routing.ts).
  bindIpc(routeToRemoteWhenConnected(ctx, createDispatcher(handlers, ctx)), ctx.events, (sender, frameUrl) => sender === win?.webContents && isAppUrl(frameUrl, appUrl));
  forwardEvents(ctx.events, () => win?.webContents);
  const open = () => {
    win = createMainWindow(join(here, '../preload/index.cjs'), process.env.ELECTRON_RENDERER_URL);
  };
  open();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) open();
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
