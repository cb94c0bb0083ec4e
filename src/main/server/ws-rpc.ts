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
  // ws reports a frame over maxPayload (and other protocol violations) as an 'error' on this socket, then
  // closes it (1009/1002). Without a listener that 'error' is thrown and ends the whole server.
  socket.on('error', () => undefined);
  const reply = (message: { id: unknown; [key: string]: unknown }): void => {
    if (socket.readyState !== socket.OPEN) return;
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (err) {
      // A result too deep or too odd to serialise must cost this call, never the server.
      const cause = err instanceof Error ? err.message : String(err);
      text = JSON.stringify({ id: message.id, ok: false, error: { code: 'internal', message: `the result could not be sent: ${cause}` } });
    }
    socket.send(text);
  };
  socket.on('message', async (data, isBinary) => {
    if (isBinary) {
      socket.close(1003, 'binary messages are not accepted');
      return;
    }
    // Every frame counts towards the rate, parseable or not: a flood of garbage costs as much as calls.
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      callsInWindow = 0;
    }
    const isOverRate = ++callsInWindow > RATE_PER_SECOND;
    const rateLimited = { code: 'rate_limited', message: `more than ${RATE_PER_SECOND} messages per second` };
    let message: unknown;
    try {
      message = JSON.parse(data.toString());
    } catch {
      reply({ id: null, ok: false, error: isOverRate ? rateLimited : { code: 'invalid_argument', message: 'message is not JSON' } });
      return;
    }
    // "null", "5" or "[]" parse too; this handler is async, so a TypeError here would be an unhandled
    // rejection that ends the whole server.
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      reply({ id: null, ok: false, error: { code: 'invalid_argument', message: 'message must be a JSON object {id, call, request}' } });
      return;
    }
    const { id: rawId, call, request } = message as { id?: unknown; call?: unknown; request?: unknown };
    const id = typeof rawId === 'number' || typeof rawId === 'string' ? rawId : null;
    if (isOverRate) {
      reply({ id, ok: false, error: rateLimited });
      return;
    }
    if (typeof call !== 'string') {
      reply({ id, ok: false, error: { code: 'invalid_argument', message: 'message has no "call" name' } });
      return;
    }
    const result = await dispatch(call, request);
    reply({ id, ...result });
  });
}
