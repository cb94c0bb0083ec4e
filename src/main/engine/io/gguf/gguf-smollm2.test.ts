// SmolLM2-135M-Instruct (Q4_1 GGUF, llama) through our loader, against transformers' own GGUF loader
// (tests/fixtures/gguf/make_gguf_references.py): the last position's logits within 2e-3 max abs over the whole
// vocabulary, the same 16 greedy ids, and the CLI's `model inspect FILE.gguf` card and `logits --model FILE.gguf`.
// Skipped, with a message, where the model cache is absent (python3 scripts/models/fetch-models.py fetches it).
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../../cli/cli-harness';
import { generateText, unloadModels } from '../../../services/model-service';
import { modelCache, realModels } from '../../test-paths';
import { maxLogitDifference, readTransformersReference } from './testing/transformers-reference';

const { reference, logitsBytes } = readTransformersReference('smollm2_references.json');
const CACHE = modelCache;
const path = join(CACHE, reference.model);
const SIZE = realModels.smollm2.size; // the pinned file (scripts/models/fetch-models.py checks its sha256)
const present = existsSync(path) && statSync(path).size === SIZE;
if (!present) console.warn(`skipping SmolLM2 GGUF logits checks: ${reference.model} is not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

afterAll(() => unloadModels());

describe.skipIf(!present)(`GGUF ${reference.model} against transformers' GGUF loader`, () => {
  it('has its committed reference intact', () => {
    expect(createHash('sha256').update(logitsBytes).digest('hex')).toBe(reference.logitsSha256);
    expect(logitsBytes.length).toBe(reference.sequences.length * reference.vocab * 4);
  });

  it('model inspect FILE.gguf --json gives the card, format gguf and the tensor count per type', async () => {
    const { code, stdout, stderr } = await cli(['model', 'inspect', path, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      format: 'gguf',
      architecture: 'llama',
      parameters: 134_515_008,
      layers: 30,
      hidden: 576,
      heads: 9,
      kvHeads: 3,
      headDim: 64,
      vocab: 49_152,
      dtype: 'Q4_1',
      tiedEmbeddings: true,
      context: 8192,
      memoryBytesFloat32: 134_515_008 * 4,
      quantization: { Q4_1: 210, F32: 61, Q8_0: 1 },
      hasTokenizer: true,
      chatTemplate: true,
    });
  });

  for (const [index, sequence] of reference.sequences.entries()) {
    it(`logits --model FILE.gguf: last-position logits of sequence ${index} (${sequence.ids.length} ids) within ${reference.tolerance}`, async () => {
      const { code, stdout, stderr } = await cli(['logits', '--model', path, '--ids', sequence.ids.join(','), '--json']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const ours = (JSON.parse(stdout) as { logits: number[] }).logits;
      expect(ours.length).toBe(reference.vocab);
      expect(maxLogitDifference(ours, reference, logitsBytes, sequence)).toBeLessThanOrEqual(reference.tolerance);
    });
  }

  const greedy = reference.sequences.find((s) => s.greedy);
  it(`greedy decoding gives transformers' ${greedy?.greedy?.length} ids`, async () => {
    const result = await generateText({ model: path, promptIds: greedy!.ids, maxNewTokens: greedy!.greedy!.length, greedy: true });
    expect(result.ids).toEqual(greedy!.greedy);
  });
});
