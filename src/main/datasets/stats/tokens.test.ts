// Token-level statistics and previews with a real tokenizer (stories260K's, from ../shared).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectDataset, previewTokens } from '../../services/dataset-service';
import { hasStoriesTokenizer, loadStoriesTokenizer, tempDir } from '../testing/test-data';
import type { DatasetTokenizer } from './tokenize-example';
import { TokenLengthStats } from './token-lengths';
import { tokenizeExample } from './tokenize-example';
import { truncate } from './token-preview';

describe('TokenLengthStats', () => {
  it('gives percentiles, max, mean and a histogram that counts every example', () => {
    const stats = new TokenLengthStats();
    for (let n = 1; n <= 100; n++) stats.add(n);
    const s = stats.summary()!;
    expect(s).toMatchObject({ p50: 50, p95: 95, max: 100, mean: 50.5, count: 100 });
    expect(s.histogram.counts.reduce((a, b) => a + b, 0)).toBe(100);
    expect(s.histogram.edges[s.histogram.edges.length - 1]).toBeGreaterThan(100);
  });
});

describe('truncate', () => {
  it("'left' drops prompt tokens after BOS and keeps the target whole", () => {
    expect(truncate([1, 10, 11, 12, 20, 21], 4, 4, 'left')).toEqual({ ids: [1, 12, 20, 21], promptLength: 2 });
    expect(truncate([1, 10, 11, 12, 20, 21], 4, 4, 'right')).toEqual({ ids: [1, 10, 11, 12], promptLength: 4 });
  });
});

const hasTokenizer = hasStoriesTokenizer();

describe.skipIf(!hasTokenizer)('with the stories260K tokenizer (needs ../shared/models)', () => {
  let tokenizer: DatasetTokenizer;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tokenizer = loadStoriesTokenizer();
    tmp = await tempDir();
  });
  afterAll(async () => tmp.cleanup());

  it('marks prompt tokens (masked) and target tokens (trained); together they are the joint encoding', () => {
    const example = { prompt: 'The cat sat.\nLabel:', target: ' happy' };
    const preview = previewTokens(example, tokenizer);
    const ids = preview.tokens.map((t) => t.id);
    expect(ids).toEqual(tokenizer.encode(example.prompt + example.target));
    expect(preview.tokens[0]).toEqual({ id: 1, text: '<s>', isPrompt: true });
    expect(preview.promptTokens + preview.targetTokens).toBe(ids.length);
    const target = preview.tokens.filter((t) => !t.isPrompt);
    expect(tokenizer.decode(target.map((t) => t.id))).toBe('happy');
    expect(preview.tokens.findIndex((t) => !t.isPrompt)).toBe(preview.promptTokens);
  });

  it('trains the boundary token when prompt and target merge into it', () => {
    const { ids, promptLength } = tokenizeExample(tokenizer, 'Once upon a ti', 'me there was');
    const promptIds = tokenizer.encode('Once upon a ti');
    expect(ids.slice(0, promptLength)).toEqual(promptIds.slice(0, promptLength));
    expect(promptLength).toBeLessThan(promptIds.length);
  });

  it('masks only BOS for language modelling (empty prompt)', () => {
    const preview = previewTokens({ prompt: '', target: 'Once upon a time' }, tokenizer);
    expect(preview.promptTokens).toBe(1);
  });

  it('reports token lengths and rows longer than the context, with the truncation rule', async () => {
    const file = join(tmp.dir, 'lengths.jsonl');
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: 'Once upon a time there was a little dog. '.repeat(1 + (i % 5) * 4) }));
    await writeFile(file, lines.join('\n') + '\n');
    const result = await inspectDataset(file, { tokenizer, contextLength: 64 });
    const lengths = result.tokenLengths!;
    expect(lengths.count).toBe(30);
    expect(lengths.p50).toBeLessThanOrEqual(lengths.p95);
    expect(lengths.p95).toBeLessThanOrEqual(lengths.max);
    expect(lengths.max).toBe(Math.max(...lines.map((l) => tokenizer.encode(JSON.parse(l).text).length)));
    const tooLong = lines.filter((l) => tokenizer.encode(JSON.parse(l).text).length > 64).length;
    expect(tooLong).toBeGreaterThan(0);
    expect(result.truncation).toEqual({ contextLength: 64, rule: 'left', count: tooLong });
    expect(result.warningCounts.too_long).toBe(tooLong);
    expect(result.warnings.find((w) => w.kind === 'too_long')!.message).toMatch(/tokens, more than the context of 64: prompt tokens after BOS will be dropped/);
    expect(result.exitCode).toBe(0);
    const dropped = await inspectDataset(file, { tokenizer, contextLength: 64, truncation: 'drop' });
    expect(dropped.validRows).toBe(30 - tooLong);
  });

  it('previews what a truncated example will train on', () => {
    const preview = previewTokens({ prompt: 'word '.repeat(50), target: ' end' }, tokenizer, { contextLength: 16 });
    expect(preview.tokens).toHaveLength(16);
    expect(preview.tokens[0].id).toBe(1);
    expect(tokenizer.decode(preview.tokens.filter((t) => !t.isPrompt).map((t) => t.id))).toBe('end');
  });
});
