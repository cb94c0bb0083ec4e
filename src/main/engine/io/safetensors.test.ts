import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '@shared/errors';
import { SafetensorsReader, writeSafetensors, writeSafetensorsFrom, type F32Source } from './safetensors';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-st-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A raw safetensors file from a header object and data bytes. */
function rawFile(name: string, header: unknown, data: Uint8Array, lengthOverride?: bigint): string {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

function expectBadFile(fn: () => unknown, pattern: RegExp, field?: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.message).toMatch(pattern);
    expect(e.file).toBeTruthy();
    if (field) expect(e.field).toBe(field);
    return;
  }
  throw new Error('expected an ApiError');
}

describe('safetensors', () => {
  it('writes and reads back F32 tensors with metadata, leaving no temp file', () => {
    const path = join(dir, 'a.safetensors');
    const weight = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
    writeSafetensors(path, { 'x.weight': { dtype: 'F32', shape: [2, 3], data: weight }, bias: { dtype: 'F32', shape: [1], data: new Float32Array([7]) } }, { format: 'pt' });
    const reader = SafetensorsReader.open(path);
    try {
      expect(reader.metadata).toEqual({ format: 'pt' });
      expect([...reader.tensors.keys()]).toEqual(['x.weight', 'bias']);
      const read = reader.read('x.weight');
      expect(read.shape).toEqual([2, 3]);
      expect(Array.from(read.data)).toEqual(Array.from(weight));
      expect(Array.from(reader.read('bias').data)).toEqual([7]);
    } finally {
      reader.close();
    }
    expect(readdirSync(dir)).toEqual(['a.safetensors']);
  });

  it('overwrites an existing file atomically', () => {
    const path = join(dir, 'a.safetensors');
    writeSafetensors(path, { t: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    writeSafetensors(path, { t: { dtype: 'F32', shape: [2], data: new Float32Array([2, 3]) } });
    const reader = SafetensorsReader.open(path);
    expect(Array.from(reader.read('t').data)).toEqual([2, 3]);
    reader.close();
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => writeSafetensors(join(dir, 'b.safetensors'), { t: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/holds 3 values/);
  });

  it('streams sources: each is read once, in order, after the tensors before it are on disk; same bytes as writeSafetensors', () => {
    const values = [Float32Array.from([1, 2, 3, 4, 5, 6]), Float32Array.from([7]), Float32Array.from([8, 9])];
    const shapes = [[2, 3], [1], [2]];
    const names = ['a', 'b', 'c'];
    const reads: Array<{ name: string; bytesOnDisk: number }> = [];
    const tempFile = () => readdirSync(dir).find((f) => f.startsWith('.s.safetensors.'));
    const sources: Record<string, F32Source> = {};
    names.forEach((name, i) => {
      sources[name] = {
        shape: shapes[i],
        read: () => {
          const temp = tempFile();
          reads.push({ name, bytesOnDisk: temp ? statSync(join(dir, temp)).size : -1 });
          return values[i];
        },
      };
    });
    writeSafetensorsFrom(join(dir, 's.safetensors'), sources, { step: '3' });
    expect(reads.map((r) => r.name)).toEqual(names);
    // Each read happens with exactly the earlier tensors written after the header: one tensor in memory at a time.
    const headerEnd = reads[0].bytesOnDisk;
    expect(headerEnd).toBeGreaterThan(8);
    expect(reads.map((r) => r.bytesOnDisk - headerEnd)).toEqual([0, 24, 28]);

    const eager = Object.fromEntries(names.map((name, i) => [name, { dtype: 'F32' as const, shape: shapes[i], data: values[i] }]));
    writeSafetensors(join(dir, 'e.safetensors'), eager, { step: '3' });
    expect(readFileSync(join(dir, 's.safetensors')).equals(readFileSync(join(dir, 'e.safetensors')))).toBe(true);
  });

  it('a source whose values do not fill its shape fails naming the tensor, leaving no file', () => {
    const sources: Record<string, F32Source> = { ok: { shape: [1], read: () => new Float32Array(1) }, short: { shape: [4], read: () => new Float32Array(3) } };
    expect(() => writeSafetensorsFrom(join(dir, 'x.safetensors'), sources)).toThrow(/tensor short: shape \[4\] holds 4 values but data has 3/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('converts F16 and BF16 to float32 and narrows I64', () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]); // 1, -2, ~0.333, smallest subnormal, inf
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    const i64 = new BigInt64Array([5n, -7n]);
    const bytes = Buffer.concat([Buffer.from(f16.buffer), Buffer.from(bf16.buffer), Buffer.from(i64.buffer)]);
    const path = rawFile(
      'h.safetensors',
      {
        h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] },
        n: { dtype: 'I64', shape: [2], data_offsets: [14, 30] },
      },
      bytes,
    );
    const reader = SafetensorsReader.open(path);
    const h = reader.read('h').data;
    expect(h[0]).toBe(1);
    expect(h[1]).toBe(-2);
    expect(h[2]).toBeCloseTo(0.33325, 5);
    expect(h[3]).toBeCloseTo(2 ** -24, 12);
    expect(h[4]).toBe(Infinity);
    expect(Array.from(reader.read('b').data)).toEqual([1, -3]);
    const n = reader.read('n');
    expect(n.data).toBeInstanceOf(Int32Array);
    expect(Array.from(n.data)).toEqual([5, -7]);
    reader.close();
  });

  it('names the file for a header length beyond the file', () => {
    const path = rawFile('long.safetensors', {}, new Uint8Array(0), 1_000_000n);
    expectBadFile(() => SafetensorsReader.open(path), /header length 1000000 does not fit/);
  });

  it('names the file for a header that is not JSON', () => {
    const path = join(dir, 'nojson.safetensors');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(5n);
    writeFileSync(path, Buffer.concat([length, Buffer.from('{oops')]));
    expectBadFile(() => SafetensorsReader.open(path), /not valid JSON/);
  });

  it('names the tensor for an unsupported dtype', () => {
    const path = rawFile('dtype.safetensors', { t: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    expectBadFile(() => SafetensorsReader.open(path), /tensor t has dtype "F64"/, 't');
  });

  it('names the tensor when shape × dtype disagrees with data_offsets', () => {
    const path = rawFile('span.safetensors', { t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8));
    expectBadFile(() => SafetensorsReader.open(path), /needs 12 bytes but its data_offsets span 8/, 't');
  });

  it('names the tensor when its data lies beyond the end of the file', () => {
    const path = rawFile('short.safetensors', { t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8));
    expectBadFile(() => SafetensorsReader.open(path), /truncated/, 't');
  });

  it('rejects files shorter than the length field', () => {
    const path = join(dir, 'tiny.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expectBadFile(() => SafetensorsReader.open(path), /too short/);
  });
});
