// Events from services to every connected client (Electron windows, WebSocket clients), validated against
// the contract before they leave main.
import { EVENTS, type EventName, type Events } from '@shared/contract';
import type { z } from 'zod';

export type EventListener = (name: EventName, payload: unknown) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  emit<N extends EventName>(name: N, payload: z.input<Events[N]>): void {
    const parsed = EVENTS[name].safeParse(payload);
    if (!parsed.success) throw new Error(`event ${name} does not match the contract: ${parsed.error.message}`);
    for (const listener of this.listeners) listener(name, parsed.data);
  }

  /** Receive every event; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
