// Token statistics are bounded: a 30 MB field is cut to context × 32 characters before it reaches the
// tokenizer, the pass stops tokenizing after its character budget, and the result says how many rows were
// cut or not measured.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanDataset } from '../scan/scan-dataset';
import { CHARS_PER_TOKEN_BOUND, TokenLengthStats } from './token-lengths';
import type { DatasetTokenizer } from './tokenize-example';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-token-lengths-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** One token per 4 characters, recording every text it is given. */
function spyTokenizer(): DatasetTokenizer & { chars: number[] } {
  const chars: number[] = [];
  return {
    chars,
    encode: (text) => {
      chars.push(text.length);
      return Array.from({ length: Math.ceil(text.length / 4) + 1 }, () => 1);
    },
    decode: () => '',
  };
}

describe('token length statistics', () => {
  it('a JSONL row with one 30 MB field reaches the tokenizer cut to context × 32 characters', async () => {
    const file = join(tmp, 'big.jsonl');
    const rows = [{ text: 'short row' }, { text: 'x'.repeat(30 * 1024 * 1024) }, { text: 'another short row' }];
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const tokenizer = spyTokenizer();
    const { result } = await scanDataset(file, { task: 'text', tokenizer, contextLength: 512, previewRows: 0 });
    expect(Math.max(...tokenizer.chars)).toBeLessThanOrEqual(512 * CHARS_PER_TOKEN_BOUND);
    expect(tokenizer.chars.reduce((a, b) => a + b, 0)).toBeLessThan(512 * CHARS_PER_TOKEN_BOUND + 1000);
    expect(result.tokenLengths).toMatchObject({ count: 3, truncatedRows: 1 });
    expect(result.tokenLengths?.skippedRows).toBeUndefined();
    // The cut row still exceeds the context, so it is reported as too long.
    expect(result.truncation?.count).toBe(1);
  });

  it('stops tokenizing when the pass budget is spent and counts the rows not measured', () => {
    const stats = new TokenLengthStats(100);
    const tokenizer = spyTokenizer();
    expect(stats.measure(tokenizer, 'p'.repeat(30), 't'.repeat(30), 8)).toBeGreaterThan(0);
    expect(stats.measure(tokenizer, 'p'.repeat(30), 't'.repeat(30), 8)).toBeGreaterThan(0);
    expect(stats.measure(tokenizer, 'p', 't', 8)).toBeUndefined();
    expect(tokenizer.chars).toEqual([60, 60]);
    expect(stats.summary()).toMatchObject({ count: 2, skippedRows: 1 });
  });

  it('never splits a surrogate pair when cutting', () => {
    const stats = new TokenLengthStats();
    const seen: string[] = [];
    const tokenizer: DatasetTokenizer = { encode: (text) => (seen.push(text), [1]), decode: () => '' };
    stats.measure(tokenizer, 'a'.repeat(31), '😀'.repeat(10), 1); // cap 32 falls inside the first emoji
    expect(seen[0]).toBe('a'.repeat(31));
  });
});
