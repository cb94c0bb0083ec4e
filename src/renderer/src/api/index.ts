// The renderer's one `api`: Electron's preload object when present, else the WebSocket client built
// from the same contract. Stores import this and nothing else to reach main.
import { buildApi } from '@shared/contract/client';
import type { PrefixLabApi } from '@shared/contract';
import { createWsTransport, tokenFromLocation } from './ws-transport';

function createApi(): PrefixLabApi {
  if (window.prefixlab) return window.prefixlab;
  const token = tokenFromLocation() ?? '';
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return buildApi(createWsTransport(`${scheme}://${window.location.host}/rpc?token=${encodeURIComponent(token)}`));
}

export const api: PrefixLabApi = createApi();
export const transportName: 'electron' | 'websocket' = window.prefixlab ? 'electron' : 'websocket';
