// safetensors: generated headers (every dtype, hostile shapes and offsets, wrong header lengths, metadata of
// any type) with data sections of any length, and byte mutations of the fixture model files. Opening must
// validate everything before reading; each tensor read is bounded by the file's own size.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { SafetensorsReader } from '../../../src/main/engine/io/safetensors';
import { mutatedBytes } from '../lib/mutate';
import { ACCEPTED, defineTarget, rejected } from '../lib/target';
import { CaseFailure, judgeError } from '../lib/verdict';

const REPO = resolve(import.meta.dirname, '../../..');

export function fixtureSafetensors(): Uint8Array[] {
  const root = join(REPO, 'tests/fixtures/models');
  const out: Uint8Array[] = [];
  for (const dir of readdirSync(root).sort()) {
    const folder = join(root, dir);
    if (!statSync(folder).isDirectory()) continue;
    for (const name of readdirSync(folder).sort()) if (name.endsWith('.safetensors')) out.push(new Uint8Array(readFileSync(join(folder, name))));
  }
  return out;
}

const dim = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, 2 ** 31, 2 ** 40, 2 ** 53, 1e20, Number.MAX_SAFE_INTEGER) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
const dtype = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('F32', 'F16', 'BF16', 'I32', 'I64') },
  { weight: 1, arbitrary: fc.constantFrom('F64', 'U8', 'BOOL', '', 'f32') },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
);
const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

interface GenTensor {
  name: string;
  dtype: unknown;
  shape: unknown;
  offsetMode: 'exact' | 'shifted' | 'random' | 'missing' | 'huge';
  random: [number, number];
}

const tensor = fc.record({
  name: fc.oneof(fc.constantFrom('model.embed_tokens.weight', 'lm_head.weight', '__proto__', 'constructor', ''), fc.string({ maxLength: 12 })),
  dtype,
  shape: fc.oneof({ weight: 8, arbitrary: fc.array(dim, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
  offsetMode: fc.constantFrom('exact', 'exact', 'exact', 'shifted', 'random', 'missing', 'huge') as fc.Arbitrary<GenTensor['offsetMode']>,
  random: fc.tuple(fc.integer({ min: -5, max: 5000 }), fc.integer({ min: -5, max: 5000 })),
});

interface Generated {
  tensors: GenTensor[];
  metadata: unknown;
  headerLengthMode: 'exact' | 'short' | 'long' | 'huge' | 'zero';
  extraDataBytes: number;
  headerPrefix: string;
}

const generated: fc.Arbitrary<Generated> = fc.record({
  tensors: fc.array(tensor, { maxLength: 5 }),
  metadata: fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }), fc.jsonValue({ maxDepth: 2 })),
  headerLengthMode: fc.constantFrom('exact', 'exact', 'exact', 'short', 'long', 'huge', 'zero') as fc.Arbitrary<Generated['headerLengthMode']>,
  extraDataBytes: fc.integer({ min: -64, max: 64 }),
  headerPrefix: fc.constantFrom('', '', '', ' ', '\ufeff', 'x', '[', '{"a":'.repeat(200)),
});

/** Serialises a generated file: header JSON (offsets laid out as asked) and a data section. */
function build(g: Generated): Uint8Array {
  const header: Record<string, unknown> = {};
  if (g.metadata !== undefined) header.__metadata__ = g.metadata;
  let offset = 0;
  for (const t of g.tensors) {
    const count = Array.isArray(t.shape) && t.shape.every((d) => typeof d === 'number') ? (t.shape as number[]).reduce((a, b) => a * b, 1) : 1;
    const bytes = Number.isFinite(count) && count >= 0 && count < 4096 ? count * (BYTES[String(t.dtype)] ?? 4) : 16;
    let offsets: unknown;
    if (t.offsetMode === 'exact') offsets = [offset, offset + bytes];
    else if (t.offsetMode === 'shifted') offsets = [offset + 1, offset + bytes + 1];
    else if (t.offsetMode === 'random') offsets = t.random;
    else if (t.offsetMode === 'huge') offsets = [0, 100 * 2 ** 30]; // claims a 100 GB tensor
    Object.defineProperty(header, t.name, {
      value: { dtype: t.dtype, shape: t.shape, ...(offsets === undefined ? {} : { data_offsets: offsets }) },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    offset += Number.isFinite(bytes) ? bytes : 0;
  }
  const json = Buffer.from(g.headerPrefix + JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  const n = json.length;
  const claimed = { exact: BigInt(n), short: BigInt(Math.max(0, n - 3)), long: BigInt(n + 7), huge: 2n ** 63n + 5n, zero: 0n }[g.headerLengthMode];
  length.writeBigUInt64LE(claimed);
  const data = Buffer.alloc(Math.max(0, offset + g.extraDataBytes), 0x3f);
  return new Uint8Array(Buffer.concat([length, json, data]));
}

export const safetensorsTarget = defineTarget<{ bytes: Uint8Array }>({
  name: 'safetensors',
  description: 'generated headers (hostile dtypes/shapes/offsets/lengths, 100 GB claims) and mutated fixture files → SafetensorsReader.open + read',
  arbitrary: () => {
    const seeds = fixtureSafetensors();
    return fc.record({
      bytes: fc.oneof(
        { weight: 3, arbitrary: generated.map(build) },
        {
          weight: 2,
          arbitrary: mutatedBytes(seeds, [
            '"',
            '{',
            '}',
            ',',
            '"shape":[1e30]',
            '"dtype":"F64"',
            '"data_offsets":[0,99999999999]',
            new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
          ]),
        },
      ),
    });
  },
  describeInput: ({ bytes }) => `${bytes.length} bytes: ${Buffer.from(bytes.subarray(0, 400)).toString('latin1')}`,
  async run({ bytes }, ctx) {
    const path = join(ctx.tmp, 'case.safetensors');
    writeFileSync(path, bytes);
    let reader: SafetensorsReader;
    try {
      reader = SafetensorsReader.open(path);
    } catch (err) {
      return rejected(judgeError(err, { needsFile: true }));
    }
    try {
      for (const [name, info] of reader.tensors) {
        if (info.end - info.begin > bytes.length) throw new CaseFailure('crash', `tensor ${name} accepted with ${info.end - info.begin} bytes in a ${bytes.length}-byte file`);
        try {
          const t = reader.read(name);
          if (t.data.length !== info.shape.reduce((a, b) => a * b, 1)) throw new CaseFailure('crash', `tensor ${name}: ${t.data.length} values for shape [${info.shape}]`);
        } catch (err) {
          return rejected(judgeError(err, { needsFile: true }));
        }
      }
    } finally {
      reader.close();
    }
    return ACCEPTED;
  },
});
