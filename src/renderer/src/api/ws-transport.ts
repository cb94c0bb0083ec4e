// The WebSocket transport used in a browser on `prefixlab serve`: same calls and events as Electron IPC.
// Reconnects after a drop; calls in flight when the socket closes fail with a readable error.
import type { CallResult, Transport } from '@shared/contract/client';

type Pending = { resolve: (r: CallResult) => void };

export function tokenFromLocation(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get('token');
  if (fromUrl) sessionStorage.setItem('prefixlab-token', fromUrl);
  return fromUrl ?? sessionStorage.getItem('prefixlab-token');
}

export function createWsTransport(url: string): Transport {
  let socket: WebSocket | undefined;
  let opening: Promise<WebSocket> | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();

  const open = (): Promise<WebSocket> => {
    if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket);
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => {
        socket = ws;
        opening = undefined;
        resolve(ws);
      };
      ws.onerror = () => {
        opening = undefined;
        reject(new Error('cannot reach the PrefixLab server (is `prefixlab serve` still running?)'));
      };
      ws.onclose = () => {
        socket = undefined;
        for (const [id, call] of pending) {
          call.resolve({ ok: false, error: { code: 'disconnected', message: 'the connection to the PrefixLab server closed' } });
          pending.delete(id);
        }
        // Keep the event stream alive across server restarts while anyone listens.
        if (listeners.size > 0) setTimeout(() => void open().catch(() => undefined), 1000);
      };
      ws.onmessage = (message) => {
        const data = JSON.parse(String(message.data)) as { id?: number; event?: string; payload?: unknown } & CallResult;
        if (data.event !== undefined) {
          for (const listener of listeners.get(data.event) ?? []) listener(data.payload);
          return;
        }
        const call = data.id !== undefined ? pending.get(data.id) : undefined;
        if (call && data.id !== undefined) {
          pending.delete(data.id);
          call.resolve(data);
        }
      };
    });
    return opening;
  };

  return {
    async invoke(name, request) {
      let ws: WebSocket;
      try {
        ws = await open();
      } catch (err) {
        return { ok: false, error: { code: 'disconnected', message: (err as Error).message } };
      }
      const id = nextId++;
      return new Promise<CallResult>((resolve) => {
        pending.set(id, { resolve });
        ws.send(JSON.stringify({ id, call: name, request }));
      });
    },
    subscribe(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      void open().catch(() => undefined);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(event);
      };
    },
  };
}
