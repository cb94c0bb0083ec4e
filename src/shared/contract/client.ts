// Builds the typed `api` object from the contract over any transport that can invoke a call by name and
// subscribe to an event by name. The preload (IPC) and the WebSocket client both use this.
import { ApiError, type ApiErrorData } from '../errors';
import { CALLS, type PrefixLabApi } from './index';
import type { Unsubscribe } from './define';

/** Every transport answers a call with this envelope, so errors keep their code/file/line/field. */
export type CallResult = { ok: true; result: unknown } | { ok: false; error: ApiErrorData };

export interface Transport {
  invoke(name: string, request: unknown): Promise<CallResult>;
  subscribe(event: string, listener: (payload: unknown) => void): Unsubscribe;
}

export function buildApi(transport: Transport): PrefixLabApi {
  const api: Record<string, unknown> = {};
  for (const name of Object.keys(CALLS)) {
    const [domain, method] = name.split('.') as [string, string];
    const group = (api[domain] ??= {}) as Record<string, unknown>;
    group[method] = async (request: unknown = {}) => {
      const reply = await transport.invoke(name, request);
      if (!reply.ok) throw ApiError.from(reply.error);
      return reply.result;
    };
  }
  api.on = (event: string, listener: (payload: unknown) => void) => transport.subscribe(event, listener);
  return api as PrefixLabApi;
}
