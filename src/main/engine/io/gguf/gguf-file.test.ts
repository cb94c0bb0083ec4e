// The GGUF header reader and tensor reader on small files written byte by byte (tiny-gguf-writer.ts),
// including the bad inputs: truncation, unknown types, non-regular files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError } from './testing/one-line-error';
import { readGgufFile } from './gguf-file';
import { GgufTensorReader } from './read-tensor';
import { writeTinyGguf, type TinyGguf } from './tiny-gguf-writer';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** One Q8_0 block: d = 0.5 (f16 0x3800), q = -16..15. */
function q8Block(): Uint8Array {
  const b = new Uint8Array(34);
  b[0] = 0x00;
  b[1] = 0x38;
  for (let i = 0; i < 32; i++) b[2 + i] = (i - 16) & 0xff;
  return b;
}

function spec(version: 1 | 2 | 3 = 3): TinyGguf {
  return {
    version,
    metadata: {
      'general.architecture': { type: 'string', value: 'llama' },
      'llama.block_count': { type: 'u32', value: 2 },
      'general.size': { type: 'u64', value: 123n },
      'general.huge': { type: 'u64', value: 2n ** 60n },
      'tokenizer.ggml.tokens': { type: 'string[]', value: ['<s>', 'a', 'b'] },
      'tokenizer.ggml.offsets': { type: 'u64[]', value: [1n, 2n ** 63n] },
      'general.flag': { type: 'bool', value: true },
    },
    tensors: [
      { name: 'norm.weight', shape: [3], typeId: 0, data: f32Bytes([1, -2, 0.5]) },
      { name: 'emb.weight', shape: [32, 2], typeId: 8, data: new Uint8Array([...q8Block(), ...q8Block()]) },
      { name: 'h.weight', shape: [2, 2], typeId: 1, data: new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00, 0x01, 0x00]) },
    ],
  };
}

describe('readGgufFile', () => {
  for (const version of [2, 3] as const) {
    it(`reads a v${version} file: metadata, tensor table with absolute offsets and byte lengths`, async () => {
      const path = write(`v${version}.gguf`, writeTinyGguf(spec(version)));
      const file = await readGgufFile(path);
      expect(file.version).toBe(version);
      expect(file.alignment).toBe(32);
      expect(file.metadata['general.architecture']).toBe('llama');
      expect(file.metadata['llama.block_count']).toBe(2);
      expect(file.metadata['general.size']).toBe(123); // safe u64 → number
      expect(file.metadata['general.huge']).toBe(2n ** 60n); // unsafe stays bigint
      expect(file.metadata['tokenizer.ggml.tokens']).toEqual(['<s>', 'a', 'b']);
      expect(file.metadata['tokenizer.ggml.offsets']).toEqual([1, 2n ** 63n]);
      expect(file.metadata['general.flag']).toBe(true);
      expect(file.metadata).not.toHaveProperty('tensor_count');
      expect(file.tensors.map(({ name, shape, type, elements, byteLength }) => ({ name, shape, type, elements, byteLength }))).toEqual([
        { name: 'norm.weight', shape: [3], type: 'F32', elements: 3, byteLength: 12 },
        { name: 'emb.weight', shape: [32, 2], type: 'Q8_0', elements: 64, byteLength: 68 },
        { name: 'h.weight', shape: [2, 2], type: 'F16', elements: 4, byteLength: 8 },
      ]);
      expect(file.dataOffset % 32).toBe(0);
      expect(file.tensors.map((t) => t.offset - file.dataOffset)).toEqual([0, 32, 128]);

      const reader = GgufTensorReader.open(file);
      try {
        expect(Array.from(reader.read('norm.weight').data)).toEqual([1, -2, 0.5]);
        const emb = reader.read('emb.weight').data;
        expect(emb.length).toBe(64);
        expect(Array.from(emb.subarray(0, 4))).toEqual([-8, -7.5, -7, -6.5]);
        expect(emb[63]).toBe(7.5);
        expect(Array.from(reader.read('h.weight').data)).toEqual([1, -2, 0, 2 ** -24]);
        expect(() => reader.read('missing.weight')).toThrow(/tensor missing.weight is not in this GGUF file/);
      } finally {
        reader.close();
      }
    });
  }

  it('honours general.alignment', async () => {
    const path = write('align64.gguf', writeTinyGguf({ ...spec(), alignment: 64 }));
    const file = await readGgufFile(path);
    expect(file.alignment).toBe(64);
    expect(file.dataOffset % 64).toBe(0);
    expect(file.tensors.map((t) => t.offset - file.dataOffset)).toEqual([0, 64, 192]);
    const reader = GgufTensorReader.open(file);
    expect(Array.from(reader.read('norm.weight').data)).toEqual([1, -2, 0.5]);
    reader.close();
  });

  it('refuses a tensor whose data offset is off the alignment', async () => {
    // Written with 32-byte alignment but declaring 64: emb.weight sits at 32.
    const s = spec();
    s.metadata!['general.alignment'] = { type: 'u32', value: 64 };
    const path = write('misaligned.gguf', writeTinyGguf(s));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.message).toBe('invalid GGUF file: tensor emb.weight data offset 32 is not a multiple of the alignment 64');
  });

  it('refuses version 1 in one line', async () => {
    const path = write('v1.gguf', writeTinyGguf(spec(1)));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.code).toBe('unsupported');
    expect(err.message).toMatch(/GGUF version 1 is not supported/);
  });

  it('refuses a truncated file, naming the first tensor that runs past the end', async () => {
    const full = writeTinyGguf(spec());
    const file = await readGgufFile(write('full.gguf', full));
    const emb = file.tensors[1];
    // Cut inside emb.weight: it and h.weight run past the end.
    const path = write('cut-data.gguf', full.subarray(0, emb.offset + 10));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.code).toBe('bad_file');
    expect(err.field).toBe('emb.weight');
    expect(err.message).toMatch(/tensor emb\.weight's data \(bytes \d+–\d+\) runs past the end of the file \(\d+ bytes\) \(and 1 more tensors\); truncated\?/);
  });

  it('refuses a file cut inside its header, at every cut point, in one line', async () => {
    const full = writeTinyGguf(spec());
    const file = await readGgufFile(write('full2.gguf', full));
    for (let cut = 0; cut < file.dataOffset; cut += 7) {
      const path = write(`cut-${cut}.gguf`, full.subarray(0, cut));
      const err = await oneLineError(readGgufFile(path), path);
      expect(err.code).toBe('bad_file');
      expect(err.message).toMatch(/invalid GGUF file: (not a valid gguf file|the file \(\d+ bytes\) ends inside its header|tensor \S+'s data)/);
    }
  });

  it('refuses a tensor of an unknown type id, naming the tensor and the id', async () => {
    const s = spec();
    s.tensors![2] = { ...s.tensors![2], typeId: 99 };
    const path = write('unknown-type.gguf', writeTinyGguf(s));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.code).toBe('unsupported');
    expect(err.field).toBe('h.weight');
    expect(err.message).toBe('tensor h.weight has GGML type id 99, which is not a known type');
  });

  it('reads a known type it cannot dequantize, and refuses only when that tensor is read', async () => {
    const s = spec();
    // IQ4_NL (id 20): 32-value blocks of 18 bytes.
    s.tensors!.push({ name: 'iq.weight', shape: [32], typeId: 20, data: new Uint8Array(18) });
    const path = write('iq4nl.gguf', writeTinyGguf(s));
    const file = await readGgufFile(path);
    expect(file.tensors[3]).toMatchObject({ name: 'iq.weight', type: 'IQ4_NL', byteLength: 18 });
    const reader = GgufTensorReader.open(file);
    expect(Array.from(reader.read('norm.weight').data)).toEqual([1, -2, 0.5]);
    expect(() => reader.read('iq.weight')).toThrow(/^tensor iq\.weight has type IQ4_NL, which cannot be dequantized \(supported: F32, F16, BF16, Q8_0/);
    reader.close();
  });

  it('refuses a row length that is not a whole number of blocks', async () => {
    const s = spec();
    s.tensors![1] = { ...s.tensors![1], shape: [16, 4] };
    const path = write('bad-rows.gguf', writeTinyGguf(s));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.message).toMatch(/tensor emb\.weight \(Q8_0\) has rows of 16 values, not a multiple of its 32-value block/);
  });

  it('refuses a header larger than the parser buffers (50 MB), in one line', async () => {
    const u32 = (v: number): Buffer => Buffer.from(new Uint32Array([v]).buffer);
    const u64 = (v: number): Buffer => Buffer.from(new BigUint64Array([BigInt(v)]).buffer);
    const str = (b: Buffer): Buffer => Buffer.concat([u64(b.length), b]);
    const parts = [Buffer.from('GGUF'), u32(3), u64(0), u64(6)];
    for (let i = 0; i < 6; i++) parts.push(str(Buffer.from(`key${i}`)), u32(8), str(Buffer.alloc(9_900_000, 97)));
    const path = write('big-header.gguf', Buffer.concat(parts));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.message).toBe('invalid GGUF file: its header (metadata and tensor table) is larger than the 50 MB the parser reads');
  });

  it('refuses a file that is not GGUF', async () => {
    const path = write('not.gguf', new TextEncoder().encode('{"hello": "json"}'));
    const err = await oneLineError(readGgufFile(path), path);
    expect(err.message).toMatch(/not starting with GGUF magic number/);
  });

  it('refuses a missing file, a folder and a FIFO without opening them for a blocking read', async () => {
    const missing = join(dir, 'missing.gguf');
    expect((await oneLineError(readGgufFile(missing), missing)).code).toBe('not_found');
    const folder = join(dir, 'folder.gguf');
    mkdirSync(folder);
    expect((await oneLineError(readGgufFile(folder), folder)).message).toMatch(/is a folder, not a regular file/);
    if (process.platform !== 'win32') {
      const fifo = join(dir, 'pipe.gguf');
      execFileSync('mkfifo', [fifo]);
      expect((await oneLineError(readGgufFile(fifo), fifo)).message).toMatch(/is a FIFO \(named pipe\), not a regular file/);
    }
  });

  it('refuses to read tensors once the file has changed size', async () => {
    const full = writeTinyGguf(spec());
    const path = write('changing.gguf', full);
    const file = await readGgufFile(path);
    writeFileSync(path, full.subarray(0, full.length - 8));
    expect(() => GgufTensorReader.open(file)).toThrow(/GGUF file changed since its header was read/);
  });
});
