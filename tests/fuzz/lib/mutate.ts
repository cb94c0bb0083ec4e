// Mutation fuzzing: a seed file (a real fixture) changed by a few byte-level edits — bit flips, byte sets,
// inserted format tokens, deletions, duplicated spans, truncation — or, for JSON, by replacing values at
// random paths with hostile ones (huge, negative, wrong type, deeply nested).
import fc from 'fast-check';

type ByteOp =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; token: number }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number };

function byteOp(tokenCount: number): fc.Arbitrary<ByteOp> {
  const at = fc.nat();
  return fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at, value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x22, 0x2c, 0x0a, 0x0d, 0x5b, 0x7b, 0x5d, 0x7d, 0x5c, 0x09) }),
    fc.record({ op: fc.constant('insert' as const), at, token: fc.nat({ max: Math.max(0, tokenCount - 1) }) }),
    fc.record({ op: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ op: fc.constant('duplicate' as const), at, length: fc.integer({ min: 1, max: 256 }) }),
    fc.record({ op: fc.constant('truncate' as const), at }),
  );
}

function applyByteOps(seed: Uint8Array, ops: ByteOp[], tokens: Uint8Array[]): Uint8Array {
  let bytes = Buffer.from(seed);
  for (const o of ops) {
    const n = bytes.length;
    const at = n === 0 ? 0 : o.at % (n + 1);
    switch (o.op) {
      case 'flip':
        if (n > 0) bytes[at % n] ^= 1 << o.bit;
        break;
      case 'set':
        if (n > 0) bytes[at % n] = o.value;
        break;
      case 'insert':
        if (tokens.length > 0) bytes = Buffer.concat([bytes.subarray(0, at), tokens[o.token % tokens.length], bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(n, at + o.length))]);
        break;
      case 'duplicate':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, Math.min(n, at + o.length)), bytes.subarray(at)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
    }
  }
  return new Uint8Array(bytes);
}

/** A seed file with 1–8 byte-level edits; `tokens` are format-specific snippets worth inserting. */
export function mutatedBytes(seeds: Uint8Array[], tokens: (string | Uint8Array)[] = []): fc.Arbitrary<Uint8Array> {
  const tokenBytes = tokens.map((t) => (typeof t === 'string' ? new Uint8Array(Buffer.from(t, 'utf8')) : t));
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.array(byteOp(tokenBytes.length), { minLength: 1, maxLength: 8 }))
    .map(([index, ops]) => applyByteOps(seeds[index], ops, tokenBytes));
}

// ---- JSON-aware mutation ----

/** Values that break code which trusts a field's type or size. */
export const HOSTILE_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  -0,
  2 ** 31,
  2 ** 32 + 1,
  2 ** 53,
  1e12,
  1e308,
  -1e308,
  '',
  'x',
  '1',
  '__proto__',
  'constructor',
  '\u0000',
  '\ud800',
  'a'.repeat(5000),
  [],
  [1, 2, 3],
  [[[[[]]]]],
  {},
  { a: { b: { c: {} } } },
];

/** Depth-N nesting of arrays or objects: parsers that recurse must not blow the stack. */
export function deeplyNested(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

type JsonPath = (string | number)[];

function paths(value: unknown, prefix: JsonPath = [], out: JsonPath[] = [], depth = 0): JsonPath[] {
  out.push(prefix);
  if (depth > 6 || out.length > 4000) return out;
  if (Array.isArray(value)) value.slice(0, 40).forEach((v, i) => paths(v, [...prefix, i], out, depth + 1));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value).slice(0, 200)) paths(v, [...prefix, k], out, depth + 1);
  return out;
}

function setAt(root: unknown, path: JsonPath, value: unknown, remove: boolean): unknown {
  if (path.length === 0) return value;
  const clone = structuredClone(root) as Record<string | number, unknown>;
  let node = clone as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (remove) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
  return clone;
}

/** A JSON document with 1–4 of its values replaced by hostile ones (or removed, or given a new key). */
export function mutatedJson(seeds: unknown[], extraKeys: string[] = []): fc.Arbitrary<unknown> {
  const seedPaths = seeds.map((s) => paths(s));
  const replacement = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_VALUES) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  );
  const edit = fc.record({
    pick: fc.nat(),
    value: replacement,
    mode: fc.constantFrom('set', 'set', 'set', 'remove', 'add') as fc.Arbitrary<'set' | 'remove' | 'add'>,
    key: fc.constantFrom('__extra__', ...extraKeys),
  });
  return fc.tuple(fc.nat({ max: seeds.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([index, edits]) => {
    let doc = seeds[index];
    for (const e of edits) {
      const candidates = seedPaths[index];
      const path = candidates[e.pick % candidates.length];
      if (e.mode === 'add') {
        const container = path.length === 0 ? doc : undefined;
        if (container && typeof container === 'object' && !Array.isArray(container)) doc = setAt(doc, [e.key], e.value, false);
        continue;
      }
      try {
        doc = setAt(doc, path, e.value, e.mode === 'remove' && path.length > 0);
      } catch {
        // the path vanished under an earlier edit
      }
    }
    return doc;
  });
}

/** Splits text into 1–6 chunks at random points (stream readers must not care where chunks end). */
export function chunked(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => (text.length === 0 ? 0 : c % (text.length + 1))))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of points) {
    out.push(text.slice(from, p));
    from = p;
  }
  out.push(text.slice(from));
  return out.filter((c) => c.length > 0);
}
