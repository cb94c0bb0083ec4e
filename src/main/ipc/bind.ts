// Electron transport: one ipcMain.handle per contract call (channel "call:<name>"), every argument
// validated by the shared dispatcher, and every bus event forwarded to the window. No logic lives here.
import { ipcMain, type WebContents } from 'electron';
import { CALLS } from '@shared/contract';
import type { Dispatch } from '../rpc/dispatch';
import type { EventBus } from '../rpc/event-bus';

export const CALL_CHANNEL_PREFIX = 'call:';
export const EVENT_CHANNEL = 'event';

/**
 * `isTrustedSender` gets the sending webContents and the URL of the sending frame: only our own window's top
 * frame, showing our own page, may call in; anything else (a stray frame, a page navigated elsewhere, a
 * devtools extension) is refused.
 */
export function bindIpc(dispatch: Dispatch, events: EventBus, isTrustedSender: (contents: WebContents, frameUrl: string) => boolean): () => void {
  for (const name of Object.keys(CALLS)) {
    ipcMain.handle(CALL_CHANNEL_PREFIX + name, (event, request: unknown) => {
      const frame = event.senderFrame;
      if (!frame || frame.parent || !isTrustedSender(event.sender, frame.url)) {
        return { ok: false, error: { code: 'forbidden', message: 'IPC from an untrusted sender' } };
      }
      return dispatch(name, request);
    });
  }
  return () => {
    for (const name of Object.keys(CALLS)) ipcMain.removeHandler(CALL_CHANNEL_PREFIX + name);
  };
}

export function forwardEvents(events: EventBus, target: () => WebContents | undefined): () => void {
  return events.subscribe((name, payload) => {
    const contents = target();
    if (contents && !contents.isDestroyed()) contents.send(EVENT_CHANNEL, name, payload);
  });
}
