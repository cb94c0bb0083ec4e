// The GGUF reader and dequantizers on the two real models fetched by scripts/models/fetch-models.py
// (SmolLM2-135M Q4_1, Gemma-3-270M Q4_K_M): the tensor table must match gguf.GGUFReader's and whole tensors
// of every type they hold must dequantize to exactly gguf.quants.dequantize's values (sha256 of the float32
// bytes, recorded by tests/fixtures/gguf/make_gguf_blocks.py). Skipped, with a message, where the cache is absent.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGgufFile } from './gguf-file';
import { GgufTensorReader } from './read-tensor';
import { modelCache } from '../../test-paths';

interface ModelFacts {
  file: string;
  size: number;
  version: number;
  alignment: number;
  tensorCount: number;
  tensors: { name: string; type: string; shape: number[]; offset: number; bytes: number; elements: number; sha256: string; sum: number }[];
}

const FIXTURE = join(import.meta.dirname, '../../../../../tests/fixtures/gguf/gguf_blocks.json');
const models = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { models: ModelFacts[] }).models;
const CACHE = modelCache;

for (const model of models) {
  const path = join(CACHE, model.file);
  const present = existsSync(path) && statSync(path).size === model.size;
  if (!present) console.warn(`skipping GGUF checks on ${model.file}: not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

  describe.skipIf(!present)(`real GGUF ${model.file}`, () => {
    it('has the header and tensor table gguf.GGUFReader reads', async () => {
      const file = await readGgufFile(path);
      expect({ size: file.size, version: file.version, alignment: file.alignment, tensorCount: file.tensors.length }).toEqual({
        size: model.size,
        version: model.version,
        alignment: model.alignment,
        tensorCount: model.tensorCount,
      });
      for (const want of model.tensors) {
        const got = file.tensors.find((t) => t.name === want.name);
        expect(got && { type: got.type, shape: got.shape, offset: got.offset, bytes: got.byteLength, elements: got.elements }).toEqual({
          type: want.type,
          shape: want.shape,
          offset: want.offset,
          bytes: want.bytes,
          elements: want.elements,
        });
      }
      expect(typeof file.metadata['general.architecture']).toBe('string');
    });

    it(`dequantizes whole ${[...new Set(model.tensors.map((t) => t.type))].join(', ')} tensors exactly as gguf does`, async () => {
      const reader = GgufTensorReader.open(await readGgufFile(path));
      try {
        for (const want of model.tensors) {
          const { data } = reader.read(want.name);
          const sha256 = createHash('sha256')
            .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
            .digest('hex');
          let sum = 0;
          for (let i = 0; i < data.length; i++) sum += data[i];
          expect({ name: want.name, sha256, sum }).toEqual({ name: want.name, sha256: want.sha256, sum: expect.closeTo(want.sum, 3) }); // numpy sums pairwise: order differs
        }
      } finally {
        reader.close();
      }
    });
  });
}
