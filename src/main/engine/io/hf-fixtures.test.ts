// Every tiny Hugging Face fixture in tests/fixtures/models/*/reference.json (made by transformers):
// logits, per-token NLL, greedy ids, tokenizer ids and chat template must match.
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, probeBackends } from '../backend';
import { formatChat } from '../chat';
import { generate } from '../generate';
import { fixturesDir } from '../test-paths';
import { loadModel, type LoadedModel } from './load-model';

interface Reference {
  num_parameters: number;
  input_ids: number[][];
  logits: { positions: number[]; values: number[][][] };
  nll: number[][];
  greedy: { prompt_ids: number[]; ids: number[]; max_new_tokens: number };
  tokenizer_check: { text: string; add_special_tokens: boolean; ids: number[]; decoded: string };
  chat_template_check?: { messages: { role: string; content: string }[]; add_generation_prompt: boolean; rendered: string; ids: number[] };
}

const fixtures = existsSync(fixturesDir)
  ? readdirSync(fixturesDir)
      .filter((name) => existsSync(join(fixturesDir, name, 'reference.json')))
      .sort()
  : [];
if (fixtures.length === 0) console.warn(`skipping HF fixture tests: no ${fixturesDir}/*/reference.json (run tests/fixtures/models/make_models.py)`);

// wasm everywhere; the native TensorFlow backend too where it loads (CI builds it: scripts/native-tf/setup.sh).
const backends = (await probeBackends()).filter((b) => b.available && (b.name === 'wasm' || b.name === 'tensorflow')).map((b) => b.name);
const cases = fixtures.flatMap((name) => backends.map((backend) => [name, backend] as const));

// An empty describe.each would leave the file without tests, which vitest reports as a failure.
it.skipIf(fixtures.length > 0)('HF fixtures are absent (skipped)', () => {});

describe.skipIf(fixtures.length === 0).each(cases)('fixture %s on %s', (name, backend) => {
  const dir = join(fixturesDir, name);
  let ref: Reference;
  let loaded: LoadedModel;
  beforeAll(async () => {
    await initBackend(backend);
    ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));
    loaded = await loadModel(dir);
  });
  afterAll(() => loaded?.dispose());

  it('has the reference parameter count', () => {
    expect(loaded.model.config.parameters).toBe(ref.num_parameters);
  });

  it('matches the reference logits (≤ 1e-4) and per-token NLL', () => {
    const { logits, nll } = tf.tidy(() => {
      const all = loaded.model.forward(tf.tensor2d(ref.input_ids, undefined, 'int32')); // [B, T, V]
      const [batchSize, seqLen] = all.shape;
      const targets = tf.tensor2d(
        ref.input_ids.map((row) => row.slice(1)),
        undefined,
        'int32',
      ); // [B, T-1]
      const logProbs = tf.logSoftmax(all.slice([0, 0, 0], [batchSize, seqLen - 1, -1])); // [B, T-1, V]
      const picked = logProbs.mul(tf.oneHot(targets, all.shape[2])).sum(-1).neg(); // [B, T-1]
      return { logits: all.arraySync() as number[][][], nll: picked.arraySync() as number[][] };
    });
    let maxDiff = 0;
    ref.logits.values.forEach((rows, b) => rows.forEach((row, k) => row.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - logits[b][ref.logits.positions[k]][i]))))));
    expect(maxDiff).toBeLessThan(1e-4);
    const nllDiff = Math.max(...ref.nll.flatMap((row, b) => row.map((v, t) => Math.abs(v - nll[b][t]))));
    expect(nllDiff).toBeLessThan(1e-4);
  });

  it('reproduces the greedy continuation', async () => {
    const out = await generate(loaded.model, [ref.greedy.prompt_ids], { maxNewTokens: ref.greedy.max_new_tokens });
    expect(out.ids[0]).toEqual(ref.greedy.ids);
  });

  it('tokenizes and decodes like transformers', () => {
    const check = ref.tokenizer_check;
    expect(loaded.tokenizer!.encode(check.text, { addSpecialTokens: check.add_special_tokens })).toEqual(check.ids);
    expect(loaded.tokenizer!.decode(check.ids)).toBe(check.decoded);
  });

  it('renders the chat template like transformers (when the fixture has one)', () => {
    const check = ref.chat_template_check;
    if (!check) return;
    const rendered = formatChat(loaded.tokenizer!, check.messages, { addGenerationPrompt: check.add_generation_prompt });
    expect(rendered).toBe(check.rendered);
    expect(loaded.tokenizer!.encode(rendered, { addSpecialTokens: false })).toEqual(check.ids);
  });
});
