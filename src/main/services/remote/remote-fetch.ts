// Bounded downloads from a remote `prefixlab serve`: every request carries the token as a Bearer header (never
// in the URL, so it is never logged by a proxy), has a time limit, and stops reading past a byte limit. Errors
// are one line naming the URL path and the cause (bad token, unknown id, too big, cut short, unreachable).
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { ApiError } from '@shared/errors';
import { describeConnectError } from './remote-url';

export interface FetchLimits {
  /** Largest body accepted, bytes. */
  maxBytes: number;
  /** Whole request, connect to last byte, ms. */
  timeoutMs: number;
}

async function open(url: string, token: string, timeoutMs: number): Promise<Response> {
  const where = new URL(url);
  const shown = `${where.host}${where.pathname}`;
  let res: Response;
  try {
    // redirect: 'error': a redirect could carry the Bearer token to another host.
    res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw transportError(err, shown, timeoutMs);
  }
  if (res.ok) return res;
  const body = (await res.text().catch(() => '')).trim().split('\n')[0].slice(0, 200);
  await res.body?.cancel().catch(() => undefined);
  if (res.status === 401) throw new ApiError('forbidden', `${where.host} refused the token (401): give the token its \`prefixlab serve\` printed`, { field: 'token' });
  if (res.status === 404) throw new ApiError('not_found', `${shown}: ${body.replace(/^404:\s*/, '') || 'not found'} (404)`);
  throw new ApiError('bad_file', `${shown}: the server answered ${res.status}${body ? `: ${body}` : ''}`);
}

function transportError(err: unknown, shown: string, timeoutMs: number): ApiError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return new ApiError('timeout', `${shown}: no complete answer within ${Math.round(timeoutMs / 1000)} s`);
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return new ApiError('not_found', `${shown}: ${describeConnectError(code, '')}`);
  return new ApiError('bad_file', `${shown}: the download failed: ${describeConnectError(code, e?.cause?.message ?? e?.message ?? String(err))}`);
}

function declaredLength(res: Response, shown: string, maxBytes: number): number | null {
  const header = res.headers.get('content-length');
  if (header === null) return null;
  const n = Number(header);
  if (!Number.isSafeInteger(n) || n < 0) throw new ApiError('bad_file', `${shown}: the server sent a bad Content-Length "${header.slice(0, 40)}"`);
  if (n > maxBytes) throw new ApiError('bad_file', `${shown}: ${n} bytes is over the ${maxBytes}-byte limit for this file`);
  return n;
}

/** Reads `res`'s body chunk by chunk, refusing more than maxBytes or fewer than the declared length. */
async function readBody(res: Response, url: string, limits: FetchLimits, onChunk: (chunk: Uint8Array) => void | Promise<void>): Promise<number> {
  const where = new URL(url);
  const shown = `${where.host}${where.pathname}`;
  const expected = declaredLength(res, shown, limits.maxBytes);
  if (!res.body) throw new ApiError('bad_file', `${shown}: the server sent no body`);
  let received = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      received += chunk.byteLength;
      if (received > limits.maxBytes || (expected !== null && received > expected)) {
        throw new ApiError('bad_file', `${shown}: more than ${expected ?? limits.maxBytes} bytes arrived (limit ${limits.maxBytes})`);
      }
      await onChunk(chunk);
    }
  } catch (err) {
    await res.body.cancel().catch(() => undefined);
    if (err instanceof ApiError) throw err;
    // undici reports a body cut short as "terminated"; name it for what it is.
    if ((err as Error)?.message === 'terminated') throw new ApiError('bad_file', `${shown}: the download was cut short after ${received} of ${expected ?? '?'} bytes`);
    throw transportError(err, shown, limits.timeoutMs);
  }
  if (expected !== null && received !== expected) throw new ApiError('bad_file', `${shown}: the download was cut short after ${received} of ${expected} bytes`);
  return received;
}

/** GET `url` into memory (small files: manifests). */
export async function fetchBytes(url: string, token: string, limits: FetchLimits): Promise<Buffer> {
  const res = await open(url, token, limits.timeoutMs);
  const chunks: Uint8Array[] = [];
  await readBody(res, url, limits, (chunk) => void chunks.push(chunk));
  return Buffer.concat(chunks);
}

/** GET `url` into `path` (created, never overwritten), hashing as it goes; returns bytes and sha256. */
export async function fetchToFile(url: string, token: string, path: string, limits: FetchLimits): Promise<{ bytes: number; sha256: string }> {
  const res = await open(url, token, limits.timeoutMs);
  const hash = createHash('sha256');
  const out = createWriteStream(path, { flags: 'wx' });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  try {
    const bytes = await readBody(res, url, limits, async (chunk) => {
      hash.update(chunk);
      if (!out.write(chunk)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
    });
    await Promise.race([new Promise<void>((r, reject) => out.end((err?: Error | null) => (err ? reject(err) : r()))), failed]);
    return { bytes, sha256: hash.digest('hex') };
  } catch (err) {
    out.destroy();
    throw err;
  }
}
