// The desktop app's link to a remote `prefixlab serve`: one WebSocket to its /rpc (token in a Bearer header,
// never in the URL), the calls the renderer makes forwarded to it while connected, and its events re-emitted
// on the local bus so the window sees the remote's progress. remote.* and adapters.pull always run here.
import WebSocket from 'ws';
import { ApiError } from '@shared/errors';
import type { CallResult } from '@shared/contract/client';
import { isEventName, type EventName } from '@shared/contract';
import { checkRemoteToken, describeConnectError, parseRemoteUrl, type RemoteEndpoint } from './remote-url';
import { readRemoteSettings, writeRemoteSettings } from './remote-settings';
import type { RemoteStatus } from '@shared/contract/calls/remote';

/** The dispatcher shape (rpc/dispatch.ts), which this layer may not import. */
type Dispatch = (name: string, request: unknown) => Promise<CallResult>;
/** Where remote events go: the app's EventBus (rpc/event-bus.ts), which validates them. */
interface EventSink {
  emit(name: EventName, payload: never): void;
}

/** Calls answered by this machine even while connected: the connection itself and downloads into the local registry. */
export const LOCAL_CALLS: ReadonlySet<string> = new Set(['remote.status', 'remote.connect', 'remote.disconnect', 'adapters.pull']);
const OPEN_TIMEOUT_MS = 15_000;
/** Same as the server's limit (server/ws-rpc.ts): a reply bigger than this is refused by ws. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export class RemoteConnection {
  private endpoint: RemoteEndpoint | null = null;
  private token: string | null = null;
  private socket: WebSocket | null = null;
  private opening: Promise<WebSocket> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, (r: CallResult) => void>();
  private lastError: string | null = null;

  constructor(
    private readonly home: string,
    private readonly events: EventSink | null,
  ) {
    // A connection saved by an earlier session resumes on the first call.
    const saved = readRemoteSettings(home);
    if (saved?.connected && saved.token) {
      try {
        this.endpoint = parseRemoteUrl(saved.url);
        this.token = checkRemoteToken(saved.token);
      } catch (err) {
        this.lastError = (err as Error).message;
      }
    }
  }

  status(): RemoteStatus {
    const saved = readRemoteSettings(this.home);
    return {
      connected: this.endpoint !== null,
      url: this.endpoint?.httpBase ?? saved?.url ?? null,
      label: this.endpoint?.label ?? null,
      error: this.lastError,
    };
  }

  /** Checks URL and token (the remote must answer system.info), then saves them and routes calls there. */
  async connect(url: string, token: string): Promise<RemoteStatus> {
    const endpoint = parseRemoteUrl(url);
    const checked = checkRemoteToken(token);
    this.close();
    const probe = new RemoteConnection(this.home, null);
    probe.endpoint = endpoint;
    probe.token = checked;
    try {
      // Opening names its own failure (token, Host, TLS, unreachable); a failing call is the remote's to explain.
      await probe.open();
      const reply = await probe.invoke('system.info', {});
      if (!reply.ok) throw new ApiError(reply.error.code, `${endpoint.label}: ${reply.error.message}`);
    } finally {
      probe.close();
    }
    this.endpoint = endpoint;
    this.token = checked;
    this.lastError = null;
    await writeRemoteSettings(this.home, { url: endpoint.httpBase, token: checked, connected: true });
    return this.status();
  }

  async disconnect(): Promise<RemoteStatus> {
    this.close();
    const saved = readRemoteSettings(this.home);
    if (saved) await writeRemoteSettings(this.home, { url: saved.url, token: null, connected: false });
    this.endpoint = null;
    this.token = null;
    this.lastError = null;
    return this.status();
  }

  /** URL and token of the connected remote (for adapters.pull without its own), or a one-line refusal. */
  credentials(): { url: string; token: string } {
    if (!this.endpoint || !this.token)
      throw new ApiError('invalid_argument', 'not connected to a remote PrefixLab server: give url and token, or connect in Settings first', { field: 'url' });
    return { url: this.endpoint.httpBase, token: this.token };
  }

  get connected(): boolean {
    return this.endpoint !== null;
  }

  /** One call on the remote server, answered with its CallResult (errors keep code and message). */
  async invoke(name: string, request: unknown): Promise<CallResult> {
    let ws: WebSocket;
    try {
      ws = await this.open();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.lastError = message;
      return { ok: false, error: { code: err instanceof ApiError ? err.code : 'disconnected', message } };
    }
    const id = this.nextId++;
    return new Promise<CallResult>((resolve) => {
      this.pending.set(id, resolve);
      ws.send(JSON.stringify({ id, call: name, request }));
    });
  }

  /** `local` for LOCAL_CALLS and while not connected; the remote otherwise. */
  route(local: Dispatch): Dispatch {
    return (name, request) => (this.connected && !LOCAL_CALLS.has(name) ? this.invoke(name, request) : local(name, request));
  }

  close(): void {
    const ws = this.socket;
    this.socket = null;
    this.opening = null;
    ws?.terminate();
    this.failPending('the connection to the remote PrefixLab server was closed');
  }

  private failPending(message: string): void {
    for (const [id, resolve] of this.pending) {
      resolve({ ok: false, error: { code: 'disconnected', message } });
      this.pending.delete(id);
    }
  }

  private open(): Promise<WebSocket> {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    if (this.opening) return this.opening;
    const endpoint = this.endpoint;
    const token = this.token;
    if (!endpoint || !token) return Promise.reject(new ApiError('invalid_argument', 'not connected to a remote PrefixLab server'));
    const opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(endpoint.rpcUrl, {
        headers: { Authorization: `Bearer ${token}` },
        handshakeTimeout: OPEN_TIMEOUT_MS,
        maxPayload: MAX_MESSAGE_BYTES,
        followRedirects: false,
      });
      let settled = false;
      const fail = (err: ApiError) => {
        if (settled) return;
        settled = true;
        if (this.opening === opening) this.opening = null;
        ws.terminate();
        reject(err);
      };
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status === 401) fail(new ApiError('forbidden', `${endpoint.label} refused the token (401): give the token its \`prefixlab serve\` printed`, { field: 'token' }));
        else if (status === 421) {
          const why = `${endpoint.label} refused the Host header (421): a tunnel must keep the port (ssh -L PORT:127.0.0.1:PORT), a reverse proxy must send Host 127.0.0.1:PORT (docs/remote.md)`;
          fail(new ApiError('forbidden', why, { field: 'url' }));
        } else fail(new ApiError('not_found', `${endpoint.label}/rpc answered HTTP ${status}: is it a PrefixLab server (prefixlab serve)?`, { field: 'url' }));
      });
      ws.once('error', (err: Error & { code?: string }) => {
        fail(new ApiError('disconnected', `cannot reach ${endpoint.label}: ${describeConnectError(err.code, err.message)}`, { field: 'url' }));
      });
      ws.once('open', () => {
        settled = true;
        this.socket = ws;
        if (this.opening === opening) this.opening = null;
        ws.on('error', () => undefined);
        ws.on('message', (data) => this.onMessage(String(data)));
        ws.once('close', () => {
          if (this.socket === ws) this.socket = null;
          this.failPending(`the connection to ${endpoint.label} closed`);
        });
        resolve(ws);
      });
    });
    this.opening = opening;
    return opening;
  }

  private onMessage(text: string): void {
    let data: { id?: unknown; event?: unknown; payload?: unknown } & Partial<CallResult>;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof data.event === 'string') {
      // The remote's progress (training steps, tokens) reaches the window through the local bus, validated there.
      if (this.events && isEventName(data.event)) {
        try {
          this.events.emit(data.event, data.payload as never);
        } catch {
          // An event that does not match our contract (a different app version) is dropped, not fatal.
        }
      }
      return;
    }
    if (typeof data.id !== 'number') return;
    const resolve = this.pending.get(data.id);
    if (!resolve) return;
    this.pending.delete(data.id);
    const reply = data as { ok?: unknown; result?: unknown; error?: { code: string; message: string } };
    resolve(reply.ok === true ? { ok: true, result: reply.result } : { ok: false, error: reply.error ?? { code: 'internal', message: 'the remote sent a malformed reply' } });
  }
}

/** One connection per app context (the Electron app has one). */
const connections = new WeakMap<object, RemoteConnection>();

export function remoteConnectionFor(ctx: { options: { home: string }; events: EventSink }): RemoteConnection {
  let connection = connections.get(ctx);
  if (!connection) connections.set(ctx, (connection = new RemoteConnection(ctx.options.home, ctx.events)));
  return connection;
}
