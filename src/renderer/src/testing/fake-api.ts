// A stand-in for the renderer's `api` in component and store tests: every call is a vi.fn you can program,
// and events are delivered with emit(name, payload) to whatever subscribed through api.on.
import { vi } from 'vitest';

type Listener = (payload: unknown) => void;

export function createFakeApi() {
  const listeners = new Map<string, Set<Listener>>();
  const calls = new Map<string, ReturnType<typeof vi.fn>>();
  const domain = (name: string) =>
    new Proxy(
      {},
      {
        get: (_target, method: string) => {
          const key = `${name}.${method}`;
          if (!calls.has(key))
            calls.set(
              key,
              vi.fn(async () => ({})),
            );
          return calls.get(key);
        },
      },
    );
  const api = new Proxy(
    {
      on: (event: string, listener: Listener) => {
        if (!listeners.has(event)) listeners.set(event, new Set());
        listeners.get(event)!.add(listener);
        return () => listeners.get(event)!.delete(listener);
      },
    } as Record<string, unknown>,
    { get: (target, key: string) => (key in target ? target[key] : domain(key)) },
  );
  return {
    api,
    /** The mock behind `api.<domain>.<method>`. */
    call: (name: string) => {
      const [d, m] = name.split('.');
      return (api[d] as Record<string, ReturnType<typeof vi.fn>>)[m];
    },
    emit: (event: string, payload: unknown) => {
      for (const listener of listeners.get(event) ?? []) listener(payload);
    },
    listenerCount: (event: string) => listeners.get(event)?.size ?? 0,
  };
}
