// The WebSocket side of serve mode: calls in, results and events out, one JSON message each.
// Messages: client → {id, call, request}; server → {id, ...CallResult} or {event, payload}.
import type { WebSocket } from 'ws';
import type { Dispatch } from '../rpc/dispatch';
import type { EventBus } from '../rpc/event-bus';

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Calls a client may make per second before it is told to slow down. */
const RATE_PER_SECOND = 200;

export function attachRpc(socket: WebSocket, dispatch: Dispatch, events: EventBus): void {
  let windowStart = Date.now();
  let callsInWindow = 0;
  const unsubscribe = events.subscribe((event, payload) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event, payload }));
  });
  socket.on('close', unsubscribe);
  socket.on('message', async (data, isBinary) => {
    if (isBinary) {
      socket.close(1003, 'binary messages are not accepted');
      return;
    }
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      callsInWindow = 0;
    }
    let message: { id?: unknown; call?: unknown; request?: unknown };
    try {
      message = JSON.parse(data.toString());
    } catch {
      socket.send(JSON.stringify({ id: null, ok: false, error: { code: 'invalid_argument', message: 'message is not JSON' } }));
      return;
    }
    const id = typeof message.id === 'number' || typeof message.id === 'string' ? message.id : null;
    if (++callsInWindow > RATE_PER_SECOND) {
      socket.send(JSON.stringify({ id, ok: false, error: { code: 'rate_limited', message: `more than ${RATE_PER_SECOND} calls per second` } }));
      return;
    }
    if (typeof message.call !== 'string') {
      socket.send(JSON.stringify({ id, ok: false, error: { code: 'invalid_argument', message: 'message has no "call" name' } }));
      return;
    }
    const result = await dispatch(message.call, message.request);
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ id, ...result }));
  });
}
