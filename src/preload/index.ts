// Exposes `window.prefixlab`, the typed API built from the shared contract over IPC. Raw ipcRenderer never
// leaves this file; there is no per-channel code.
import { contextBridge, ipcRenderer } from 'electron';
import { buildApi, type CallResult } from '@shared/contract/client';

const api = buildApi({
  invoke: (name, request) => ipcRenderer.invoke(`call:${name}`, request) as Promise<CallResult>,
  subscribe: (event, listener) => {
    const handler = (_e: unknown, name: string, payload: unknown) => {
      if (name === event) listener(payload);
    };
    ipcRenderer.on('event', handler);
    return () => void ipcRenderer.removeListener('event', handler);
  },
});

contextBridge.exposeInMainWorld('prefixlab', api);
