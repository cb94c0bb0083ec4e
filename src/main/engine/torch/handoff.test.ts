// The torch engine's hand-off on stories260K: what writeTorchHandoff writes is what our own trainer would use —
// the encoder's ids with labels exactly at the loss positions collate() scores, the trainer's batch order, the
// schedule's rates, the method's initial tensors at the run's seed, classify.ts's scoring sequences. The Python
// side's parity with our engine on these files is python/tests/test_torch_engine.py.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSpec } from '@shared/run-spec';
import { initBackend } from '../backend';
import { readStateDictFile } from '../io/state-dict-file';
import { loadModel } from '../io/load-model';
import { getMethod } from '../methods/registry';
import { collate } from '../train/batches';
import { hasStoriesHf, storiesHf, writeWeatherData } from '../train/test-fixtures';
import { readExamples } from '../train/sources';
import { generationPlan, handoffLabels, planBatches, writeTorchHandoff } from './handoff';

const isAvailable = hasStoriesHf();
let home: string;
let data: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-handoff-'));
  data = join(home, 'weather.jsonl');
  writeWeatherData(data);
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

const spec = (method: RunSpec['method'], trainer: Record<string, unknown> = {}): RunSpec =>
  ({
    model: { path: storiesHf },
    data: { path: data, split: { evalSplit: 4 } },
    method,
    seed: 7,
    trainer: { steps: 5, batchSize: 3, maxLength: 32, ...trainer },
  }) as unknown as RunSpec;

const readJsonl = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('planBatches', () => {
  it('draws every example once per epoch, gradAccumulation micro-batches per step, the same plan for the same seed', () => {
    const examples = Array.from({ length: 7 }, (_, index) => ({ index, ids: [1, 2, 3], targetStart: 1, isTruncated: false }));
    const steps = planBatches(examples, { batchSize: 2, batchTokens: null, gradAccumulation: 2, seed: 3 }, 4); // 4 batches per epoch → 2 steps per epoch
    expect(steps.map((s) => s.length)).toEqual([2, 2, 2, 2]);
    const epochOne = steps
      .slice(0, 2)
      .flat(2)
      .sort((a, b) => a - b);
    expect(epochOne).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(planBatches(examples, { batchSize: 2, batchTokens: null, gradAccumulation: 2, seed: 3 }, 4)).toEqual(steps);
    expect(planBatches(examples, { batchSize: 2, batchTokens: null, gradAccumulation: 2, seed: 4 }, 4)).not.toEqual(steps);
  });
});

describe.skipIf(!isAvailable)('writeTorchHandoff (stories260K)', () => {
  it('writes the encoded examples, batch plan, schedule, initial tensors and scoring of a LoRA run', async () => {
    const dir = join(home, 'lora');
    const written = await writeTorchHandoff(spec({ name: 'lora', options: { dropout: 0 } }, { gradAccumulation: 2, warmupSteps: 1 }), dir);
    expect(written).toMatchObject({ totalSteps: 5, trainExamples: 8, evalExamples: 4, testExamples: 0 });

    const runspec = JSON.parse(readFileSync(join(dir, 'runspec.json'), 'utf8'));
    expect(runspec.engine).toBe('torch');
    expect(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))).toMatchObject({ path: storiesHf, format: 'hf', architecture: 'llama', dtype: 'float32' });

    // labels: -100 except where collate()'s loss mask scores the token (position t−1 predicts ids[t]).
    const examples = readJsonl(join(dir, 'examples.jsonl'));
    const train = examples.filter((e) => e.split === 'train');
    expect(train.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const e of train) {
      const ids = e.inputIds as number[];
      const labels = e.labels as number[];
      const targetStart = labels.findIndex((l) => l !== -100);
      const batch = collate([{ ids, targetStart }], 0);
      const scored = labels.flatMap((l, t) => (l !== -100 ? [t - 1] : []));
      expect(scored).toEqual([...batch.lossMask].flatMap((m, t) => (m ? [t] : [])));
      expect(labels.filter((l) => l !== -100)).toEqual(ids.slice(targetStart));
    }
    expect(examples.filter((e) => e.split === 'eval')).toHaveLength(4);

    const { steps } = JSON.parse(readFileSync(join(dir, 'batches.json'), 'utf8')) as { steps: number[][][] };
    expect(steps).toHaveLength(5);
    expect(steps.every((s) => s.length === 2)).toBe(true);

    const { learningRates } = JSON.parse(readFileSync(join(dir, 'schedule.json'), 'utf8'));
    expect(learningRates[0]).toBeCloseTo(3e-3, 12); // warm-up of one step reaches the peak (LoRA's default rate)
    expect(learningRates).toHaveLength(5);
    expect(learningRates[4]).toBeLessThan(learningRates[1]);

    // The initial tensors are the adapter our engine attaches at seed 7.
    const init = readStateDictFile(join(dir, 'init.safetensors'));
    const loaded = await loadModel(storiesHf);
    const adapter = getMethod('lora').attach(loaded.model, { rank: 8, alpha: 16, dropout: 0, rsLora: false, targets: 'default' } as never, { seed: 7 });
    const expected = adapter.stateDict();
    adapter.dispose();
    loaded.dispose();
    expect(Object.keys(init).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, t] of Object.entries(expected)) expect(Array.from(init[name].data)).toEqual(Array.from(t.data));
    const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8'));
    expect(plan.trainable.sort()).toEqual(Object.keys(expected).sort());
    expect(plan.noDecay).toEqual([]);

    // classify.ts's pairs: each eval example's own target plus one sequence per label (its own label's is shared).
    const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8'));
    expect(labels.eval).toEqual({ labels: ['happy', 'sad'], classification: true });
    const rows = readJsonl(join(dir, 'scoring.jsonl'));
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const candidates = row.candidates as number[];
      expect(candidates).toHaveLength(2);
      expect(candidates[row.truth as number]).toBe(row.own);
    }
    expect(readJsonl(join(dir, 'scoring-sequences.jsonl'))).toHaveLength(8);
    for (const s of readJsonl(join(dir, 'scoring-sequences.jsonl')))
      expect(handoffLabels({ ids: s.inputIds as number[], targetStart: (s.labels as number[]).findIndex((l) => l !== -100) })).toEqual(s.labels);
  }, 60_000);

  it('PT+ with data-mean centring hands over the measured φ mean (not trainable) with the zero memories', async () => {
    const dir = join(home, 'ptplus');
    await writeTorchHandoff(spec({ name: 'ptplus', options: { phiCenter: 'data-mean' } }), dir);
    const init = readStateDictFile(join(dir, 'init.safetensors'));
    const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8'));
    const means = Object.keys(init).filter((n) => n.endsWith('ptplus_phi_mean'));
    expect(means).toHaveLength(5);
    expect(means.every((n) => !plan.trainable.includes(n))).toBe(true);
    expect(means.every((n) => init[n].data.some((v) => v !== 0))).toBe(true);
    expect(
      Object.keys(init)
        .filter((n) => n.endsWith('ptplus_memory'))
        .every((n) => init[n].data.every((v) => v === 0)),
    ).toBe(true);
  }, 60_000);

  it("hands over each eval example's prompt ids and new-token count as generation.ts exactMatch() generates them, and the EOS ids", async () => {
    const dir = join(home, 'generate');
    await writeTorchHandoff(spec({ name: 'lora', options: { dropout: 0 } }, { evalGenerate: true, evalBatchSize: 3 }), dir);
    const loaded = await loadModel(storiesHf);
    try {
      const tokenizer = loaded.tokenizer!;
      const examples = await readExamples(data);
      const byId = new Map(examples.map((e) => [e.id, e]));
      const evalRows = readJsonl(join(dir, 'examples.jsonl')).filter((e) => e.split === 'eval');
      expect(evalRows).toHaveLength(4);
      const longest = Math.max(...evalRows.map((r) => tokenizer.encode(byId.get(r.id as string)!.target, { addSpecialTokens: false }).length));
      for (const row of evalRows) {
        // greedy() encodes the prompt with the tokenizer's special tokens (BOS), not the training encoding's target.
        expect(row.promptIds).toEqual(tokenizer.encode(byId.get(row.id as string)!.prompt));
        expect(row.maxNewTokens).toBe(longest + 2);
      }
      const plan = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8'));
      expect(plan.evalGenerate).toBe(true);
      expect(plan.eosTokenIds).toEqual([...new Set([tokenizer.eosTokenId!, ...loaded.model.config.eosTokenIds])]);
    } finally {
      loaded.dispose();
    }
  }, 60_000);

  it('caps the new tokens by the context left after the longest prompt of each generation batch, as generate.ts does', () => {
    const tokenizer = { encode: (text: string) => Array.from({ length: text.length }, () => 1) };
    const scored = [
      { prompt: 'aaaa', target: 'xx' },
      { prompt: 'aaaaaaa', target: 'xxx' },
      { prompt: 'a', target: 'x' },
    ];
    expect(generationPlan(tokenizer, scored, 2, 9)).toEqual([
      { promptIds: [1, 1, 1, 1], maxNewTokens: 2 },
      { promptIds: [1, 1, 1, 1, 1, 1, 1], maxNewTokens: 2 },
      { promptIds: [1], maxNewTokens: 5 },
    ]);
    expect(generationPlan(tokenizer, [{ prompt: 'aaaaaaaaaa', target: 'x' }], 2, 9)[0].maxNewTokens).toBe(0);
  });

  it('names the missing model in one line', async () => {
    const missing = join(home, 'no-such-model');
    await expect(writeTorchHandoff({ ...spec({ name: 'lora', options: {} }), model: { path: missing } }, join(home, 'x'))).rejects.toThrow(/base model does not exist/);
  });
});
