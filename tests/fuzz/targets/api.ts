// Argument validation of every call in the CONTRACT: arbitrary JSON (and the structured-clone values Electron
// IPC can carry: Dates, Maps, typed arrays, BigInts, sparse and null-prototype objects), requests generated
// from each call's own JSON Schema and then mutated, and unknown call names. Every request is accepted (and
// re-validates) or refused with invalid_argument naming the call and the field. The WebSocket message handler
// gets raw frames: each gets exactly one well-formed reply.
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { z } from 'zod';
import { CALLS, type CallName } from '@shared/contract';
import { ApiError, toApiErrorData } from '@shared/errors';
import { createDispatcher, validateRequest } from '../../../src/main/rpc/dispatch';
import { EventBus } from '../../../src/main/rpc/event-bus';
import { attachRpc, MAX_MESSAGE_BYTES } from '../../../src/main/server/ws-rpc';
import { HOSTILE_VALUES, mutatedJson } from '../lib/mutate';
import { ACCEPTED, defineTarget, rejected } from '../lib/target';
import { CaseFailure, judgeError } from '../lib/verdict';
import type { Handlers } from '@shared/contract';

const NAMES = Object.keys(CALLS).sort() as CallName[];

// ---- JSON Schema → arbitrary (enough of draft 2020-12 for the contract's request schemas) ----

type Schema = Record<string, unknown>;

function fromSchema(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if ('const' in schema) return fc.constant(schema.const);
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => fromSchema(s, depth + 1)));
  switch (schema.type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, sub] of Object.entries(props)) record[key] = fromSchema(sub, depth + 1);
      const keys = Object.keys(record);
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object' && keys.length === 0) {
        return fc.dictionary(fc.string({ maxLength: 8 }), fromSchema(schema.additionalProperties as Schema, depth + 1), { maxKeys: 3 });
      }
      return fc.record(record, { requiredKeys: keys.filter((k) => required.has(k)) });
    }
    case 'array': {
      const items = (schema.items ?? {}) as Schema;
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const max = typeof schema.maxItems === 'number' ? Math.min(schema.maxItems, min + 4) : min + 4;
      return fc.array(fromSchema(items, depth + 1), { minLength: min, maxLength: max });
    }
    case 'string': {
      if (typeof schema.pattern === 'string') {
        try {
          return fc.stringMatching(new RegExp(schema.pattern));
        } catch {
          return fc.string();
        }
      }
      const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
      const max = typeof schema.maxLength === 'number' ? Math.min(schema.maxLength, min + 40) : min + 40;
      return fc.oneof(fc.string({ minLength: min, maxLength: max }), fc.constant(`/tmp/prefixlab-fuzz-${'x'.repeat(min)}`));
    }
    case 'integer':
      return fc.integer({
        min: typeof schema.minimum === 'number' ? Math.max(schema.minimum, -1e6) : -10,
        max: typeof schema.maximum === 'number' ? Math.min(schema.maximum, 1e6) : 1000,
      });
    case 'number':
      return fc.double({ min: typeof schema.minimum === 'number' ? schema.minimum : -1e3, max: typeof schema.maximum === 'number' ? schema.maximum : 1e3, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

const schemaArbitraries = new Map<CallName, fc.Arbitrary<unknown>>();
function generatedRequest(name: CallName): fc.Arbitrary<unknown> {
  let arb = schemaArbitraries.get(name);
  if (!arb) {
    let schema: Schema;
    try {
      schema = z.toJSONSchema(CALLS[name].request, { io: 'input', unrepresentable: 'any' }) as Schema;
    } catch {
      schema = {};
    }
    arb = fromSchema(schema);
    schemaArbitraries.set(name, arb);
  }
  return arb;
}

/** What structured clone (Electron IPC) can deliver besides JSON. */
const cloneable = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withBoxedValues: true,
});

interface ApiCase {
  name: string;
  request: unknown;
}

export const apiTarget = defineTarget<ApiCase>({
  name: 'api-args',
  description: 'every contract call with arbitrary JSON / structured-clone values / schema-generated-then-mutated requests → validateRequest',
  arbitrary: () => {
    const name = fc.constantFrom(...NAMES);
    const unknownName = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'system', 'system.', '.info', 'system.info ', 'SYSTEM.INFO'),
      fc.string({ maxLength: 20 }),
    );
    return fc.oneof(
      { weight: 4, arbitrary: name.chain((n) => generatedRequest(n).map((request) => ({ name: n, request }))) },
      {
        weight: 4,
        arbitrary: name.chain((n) => generatedRequest(n).chain((valid) => mutatedJson([valid], ['path', 'file', 'id', '__proto__']).map((request) => ({ name: n, request })))),
      },
      { weight: 2, arbitrary: fc.record({ name, request: fc.jsonValue({ maxDepth: 4 }) }) },
      { weight: 2, arbitrary: fc.record({ name, request: cloneable }) },
      { weight: 1, arbitrary: fc.record({ name, request: fc.constantFrom(...HOSTILE_VALUES, undefined) }) },
      { weight: 1, arbitrary: fc.record({ name: unknownName, request: fc.jsonValue({ maxDepth: 2 }) }) },
    );
  },
  describeInput: (c) => {
    try {
      return `${c.name}: ${JSON.stringify(c.request, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))?.slice(0, 1500)}`;
    } catch {
      return `${c.name}: (unprintable)`;
    }
  },
  async run({ name, request }) {
    let valid: unknown;
    try {
      valid = validateRequest(name, request);
    } catch (err) {
      const known = Object.prototype.hasOwnProperty.call(CALLS, name);
      const code = judgeError(err, {});
      const e = err as ApiError;
      if (!known) {
        if (code !== 'not_found') throw new CaseFailure('crash', `unknown call ${JSON.stringify(name)} answered ${code}`);
        return rejected(code);
      }
      if (code !== 'invalid_argument') throw new CaseFailure('crash', `${name} refused with ${code}, not invalid_argument`);
      if (!e.message.startsWith(`${name}: `)) throw new CaseFailure('crash', `message does not name the call: ${e.message}`);
      const data = toApiErrorData(err);
      if (JSON.parse(JSON.stringify(data)).message !== data.message) throw new CaseFailure('crash', 'error does not survive JSON');
      return rejected(code);
    }
    // Whatever was accepted is a valid request again (defaults filled once) and crosses JSON unchanged.
    try {
      validateRequest(name, JSON.parse(JSON.stringify(valid)));
    } catch (err) {
      throw new CaseFailure('crash', `accepted request does not re-validate: ${err instanceof Error ? err.message : String(err)}`);
    }
    return ACCEPTED;
  },
});

// ---- the WebSocket message handler ----

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  replies: string[] = [];
  closed: { code: number; reason: string } | null = null;
  send(data: string): void {
    this.replies.push(data);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }
}

const stubHandlers = new Proxy({} as Handlers<null>, {
  get: () => async () => {
    throw new ApiError('unsupported', 'fuzz stub: validation passed');
  },
});

interface WsCase {
  frames: { data: string | Uint8Array; isBinary: boolean }[];
}

export const wsMessageTarget = defineTarget<WsCase>({
  name: 'ws-messages',
  description: 'raw WebSocket frames (bad JSON, odd ids, any call/request, binary) → attachRpc: one well-formed reply each',
  arbitrary: () => {
    const validCall = fc.constantFrom(...NAMES).chain((n) => generatedRequest(n).map((request) => ({ call: n, request })));
    const message = fc.oneof(
      fc
        .record({
          id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
          call: fc.oneof(fc.constantFrom(...NAMES), fc.jsonValue({ maxDepth: 1 })),
          request: fc.jsonValue({ maxDepth: 3 }),
        })
        .map((m) => JSON.stringify(m)),
      fc.tuple(fc.integer(), validCall).map(([id, c]) => JSON.stringify({ id, ...c })),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 40 }),
      fc.constantFrom('', '{', '[]', 'null', '{"id":1}', '{"id":1,"call":"__proto__"}', '{"__proto__":{"call":"system.info"},"id":2}', '{"id":1e999,"call":"system.info"}'),
    );
    const frame = fc.oneof(
      { weight: 9, arbitrary: message.map((data) => ({ data, isBinary: false })) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((data) => ({ data, isBinary: true })) },
    );
    return fc.record({ frames: fc.array(frame, { minLength: 1, maxLength: 5 }) });
  },
  async run({ frames }) {
    const socket = new FakeSocket();
    const events = new EventBus();
    const validateOnly = createDispatcher(stubHandlers, null);
    attachRpc(socket as never, validateOnly, events);
    let expected = 0;
    for (const frame of frames) {
      if (socket.closed) break;
      const data = typeof frame.data === 'string' ? Buffer.from(frame.data) : Buffer.from(frame.data);
      socket.emit('message', data, frame.isBinary);
      if (!frame.isBinary) expected++;
    }
    // Replies are sent after the (async) dispatch: let it finish.
    for (let i = 0; i < 20 && socket.replies.length < expected && !socket.closed; i++) await new Promise((r) => setImmediate(r));
    socket.emit('close');
    if (!socket.closed && socket.replies.length !== expected) throw new CaseFailure('crash', `${frames.length} frames, ${socket.replies.length} replies (expected ${expected})`);
    for (const reply of socket.replies) {
      let parsed: { id?: unknown; ok?: unknown; error?: { code?: unknown; message?: unknown } };
      try {
        parsed = JSON.parse(reply);
      } catch {
        throw new CaseFailure('crash', `reply is not JSON: ${reply.slice(0, 200)}`);
      }
      if (typeof parsed.ok !== 'boolean') throw new CaseFailure('crash', `reply without ok: ${reply.slice(0, 200)}`);
      if (!(parsed.id === null || typeof parsed.id === 'number' || typeof parsed.id === 'string')) throw new CaseFailure('crash', `reply id ${JSON.stringify(parsed.id)}`);
      if (!parsed.ok && (typeof parsed.error?.code !== 'string' || typeof parsed.error?.message !== 'string'))
        throw new CaseFailure('crash', `error reply without code/message: ${reply.slice(0, 200)}`);
      if (!parsed.ok && parsed.error?.code === 'internal') throw new CaseFailure('crash', `internal error: ${String(parsed.error.message)}`);
    }
    if (frames.some((f) => f.isBinary) && !socket.closed) throw new CaseFailure('crash', 'a binary frame did not close the socket');
    return socket.replies.every((r) => (JSON.parse(r) as { ok: boolean; error?: { message: string } }).error?.message === 'fuzz stub: validation passed')
      ? ACCEPTED
      : rejected('refused');
  },
});

export { MAX_MESSAGE_BYTES };
