// The GGUF writer: files read back by our reader (gguf-file.ts, @huggingface/gguf underneath) and by gguf-py
// (the llama.cpp project's own reader, in .venv; skipped with the reason where .venv is absent), F16 rounding
// against numpy's, and a failed write leaving nothing behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufFile } from '../../engine/io/gguf/gguf-file';
import { GgufTensorReader } from '../../engine/io/gguf/read-tensor';
import { f32Bytes, writeGguf, type GgufWriteSpec } from './gguf-writer';
import { f32BitsToF16Bits, quantizeF16 } from './quantize';

const PYTHON = resolve(__dirname, '../../../../.venv/bin/python');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'prefixlab-gguf-writer-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** One Q8_0 block: d = 0.5 (f16 0x3800), q = -16..15 → values -8..7.5. */
function q8Block(): Uint8Array {
  const b = new Uint8Array(34);
  b[1] = 0x38;
  for (let i = 0; i < 32; i++) b[2 + i] = (i - 16) & 0xff;
  return b;
}

function spec(): GgufWriteSpec {
  return {
    metadata: [
      { key: 'general.architecture', type: 'string', value: 'llama' },
      { key: 'general.type', type: 'string', value: 'adapter' },
      { key: 'adapter.lora.alpha', type: 'f32', value: 16 },
      { key: 'llama.block_count', type: 'u32', value: 2 },
      { key: 'general.big', type: 'u64', value: 2n ** 60n },
      { key: 'general.flag', type: 'bool', value: true },
      { key: 'tokenizer.ggml.tokens', type: 'string[]', value: ['<s>', 'a', 'b'] },
      { key: 'tokenizer.ggml.token_type', type: 'i32[]', value: [3, 1, 1] },
      { key: 'tokenizer.ggml.scores', type: 'f32[]', value: [0, -1.5, -2] },
    ],
    tensors: [
      // 3 values: data not a multiple of 32 bytes, so the next tensor needs padding.
      { name: 'output_norm.weight', type: 'F32', shape: [3], data: () => f32Bytes(new Float32Array([1, -2, 0.5])) },
      { name: 'blk.0.attn_q.weight.lora_a', type: 'F16', shape: [4, 2], data: () => quantizeF16(new Float32Array([1, 2, 3, 4, -1, 0.5, 0, 65504])) },
      { name: 'token_embd.weight', type: 'Q8_0', shape: [32, 2], data: async () => new Uint8Array([...q8Block(), ...q8Block()]) },
    ],
  };
}

describe('writeGguf', () => {
  it('writes metadata, the tensor table and 32-byte aligned tensors that our reader reads back', async () => {
    const path = join(dir, 'a.gguf');
    await writeGguf(path, spec());
    const file = await readGgufFile(path);
    expect(file.version).toBe(3);
    expect(file.metadata).toEqual({
      'general.architecture': 'llama',
      'general.type': 'adapter',
      'adapter.lora.alpha': 16,
      'llama.block_count': 2,
      'general.big': 2n ** 60n,
      'general.flag': true,
      'tokenizer.ggml.tokens': ['<s>', 'a', 'b'],
      'tokenizer.ggml.token_type': [3, 1, 1],
      'tokenizer.ggml.scores': [0, -1.5, -2],
    });
    expect(file.tensors.map((t) => [t.name, t.type, t.shape])).toEqual([
      ['output_norm.weight', 'F32', [3]],
      ['blk.0.attn_q.weight.lora_a', 'F16', [4, 2]],
      ['token_embd.weight', 'Q8_0', [32, 2]],
    ]);
    expect(file.dataOffset % 32).toBe(0);
    for (const t of file.tensors) expect((t.offset - file.dataOffset) % 32).toBe(0);
    const reader = GgufTensorReader.open(file);
    try {
      expect([...reader.read('output_norm.weight').data]).toEqual([1, -2, 0.5]);
      expect([...reader.read('blk.0.attn_q.weight.lora_a').data]).toEqual([1, 2, 3, 4, -1, 0.5, 0, 65504]);
      const q = reader.read('token_embd.weight').data;
      expect(q[0]).toBe(-8);
      expect(q[63]).toBe(7.5);
    } finally {
      reader.close();
    }
    // The last tensor is padded too, as gguf-py writes it.
    expect(statSync(path).size % 32).toBe(0);
  });

  it.skipIf(!existsSync(PYTHON))('writes a file that gguf-py (llama.cpp’s reader) reads with the same fields and values', async () => {
    const path = join(dir, 'py.gguf');
    await writeGguf(path, spec());
    const script = [
      'import sys, json, gguf',
      'r = gguf.GGUFReader(sys.argv[1])',
      'kv = {}',
      'for f in r.fields.values():',
      '    if f.name.startswith("GGUF."): continue',
      '    v = f.contents()',
      '    kv[f.name] = v if not isinstance(v, float) else round(v, 6)',
      'ts = [[t.name, t.tensor_type.name, [int(x) for x in t.shape], [float(x) for x in t.data.reshape(-1)[:8]] if t.tensor_type.name != "Q8_0" else None] for t in r.tensors]',
      'print(json.dumps({"kv": kv, "tensors": ts, "alignment": r.alignment}))',
    ].join('\n');
    const out = JSON.parse(execFileSync(PYTHON, ['-c', script, path], { encoding: 'utf8', timeout: 60_000 }));
    expect(out.alignment).toBe(32);
    expect(out.kv).toEqual({
      'general.architecture': 'llama',
      'general.type': 'adapter',
      'adapter.lora.alpha': 16,
      'llama.block_count': 2,
      'general.big': Number(2n ** 60n),
      'general.flag': true,
      'tokenizer.ggml.tokens': ['<s>', 'a', 'b'],
      'tokenizer.ggml.token_type': [3, 1, 1],
      'tokenizer.ggml.scores': [0, -1.5, -2],
    });
    expect(out.tensors).toEqual([
      ['output_norm.weight', 'F32', [3], [1, -2, 0.5]],
      ['blk.0.attn_q.weight.lora_a', 'F16', [4, 2], [1, 2, 3, 4, -1, 0.5, 0, 65504]],
      ['token_embd.weight', 'Q8_0', [32, 2], null],
    ]);
  });

  it.skipIf(!existsSync(PYTHON))('rounds float32 to F16 exactly as numpy’s astype(float16) does (ties, subnormals, overflow)', () => {
    // Every 2^-13-step mantissa tie region, subnormals, the overflow edge and specials.
    const values: number[] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, 6.1e-5, 6.0e-8, 2.98e-8, 2.99e-8, 1e-9, Infinity, -Infinity];
    for (let i = 0; i < 2000; i++) values.push(((Math.sin(i * 12.9898) * 43758.5453) % 1) * 2 ** ((i % 40) - 25));
    for (let m = 0; m < 64; m++) values.push(1 + m * 2 ** -11 + 2 ** -12); // exact ties between halves
    const f32 = new Float32Array(values);
    const ours = [...new Uint16Array(quantizeF16(f32).buffer)];
    const script =
      'import sys, json, warnings, numpy as np\nwarnings.simplefilter("ignore")\nx = np.frombuffer(sys.stdin.buffer.read(), dtype="<f4")\nprint(json.dumps(x.astype(np.float16).view(np.uint16).tolist()))';
    const theirs = JSON.parse(execFileSync(PYTHON, ['-c', script], { input: Buffer.from(f32.buffer), encoding: 'utf8', timeout: 60_000 }));
    expect(ours).toEqual(theirs);
    expect(f32BitsToF16Bits(0x7fc00000) & 0x7e00).toBe(0x7e00); // NaN stays NaN
  });

  it('refuses a bad spec before writing, and leaves no temp file behind', async () => {
    const bad = async (s: GgufWriteSpec): Promise<string> =>
      writeGguf(join(dir, 'bad.gguf'), s).then(
        () => 'written',
        (e: Error) => e.message,
      );
    expect(await bad({ metadata: [], tensors: [{ name: 'x', type: 'Q8_0', shape: [16], data: () => new Uint8Array(0) }] })).toMatch(/whole 32-value blocks/);
    expect(await bad({ metadata: [{ key: 'a', type: 'u32', value: -1 }], tensors: [] })).toMatch(/a: -1 is not a valid u32/);
    expect(await bad({ metadata: [{ key: 'a', type: 'string[]', value: 'x' }], tensors: [] })).toMatch(/does not match/);
    expect(await bad({ metadata: [], tensors: [{ name: 'x', type: 'F32', shape: [2], data: () => new Uint8Array(4) }] })).toMatch(/takes 8 bytes, but its data has 4/);
    const t = { name: 'x', type: 'F32' as const, shape: [1], data: () => new Uint8Array(4) };
    expect(await bad({ metadata: [], tensors: [t, t] })).toMatch(/given twice/);
    expect(existsSync(join(dir, 'bad.gguf'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces an existing file only when the new one is complete', async () => {
    const path = join(dir, 'replace.gguf');
    await writeGguf(path, spec());
    const before = readFileSync(path);
    const failing: GgufWriteSpec = {
      ...spec(),
      tensors: [
        {
          name: 'x',
          type: 'F32',
          shape: [1],
          data: () => {
            throw new Error('source gone');
          },
        },
      ],
    };
    await expect(writeGguf(path, failing)).rejects.toThrow('source gone');
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
