import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApiError } from '@shared/errors';
import { inspectDataset, makeSplit } from '../../services/dataset-service';
import { tempDir } from '../testing/test-data';
import { computeSplit, splitExamples, type SplitItem } from './make-split';
import { checkSplit } from './split-file';

const SHA = 'a'.repeat(64);

/** n items per label, each with distinct content. */
function items(perLabel: Record<string, number>): SplitItem[] {
  const out: SplitItem[] = [];
  for (const [label, n] of Object.entries(perLabel)) for (let i = 0; i < n; i++) out.push({ id: String(out.length + 1), label, key: out.length + 1 });
  return out;
}

describe('computeSplit', () => {
  it('gives the same split for the same seed, a different one for another seed', () => {
    const data = items({ a: 50, b: 30 });
    const one = computeSplit(data, { seed: 1 }, SHA);
    expect(computeSplit(data, { seed: 1 }, SHA)).toEqual(one);
    expect(computeSplit(data, { seed: 2 }, SHA).evalIds).not.toEqual(one.evalIds);
    expect(Object.isFrozen(one) && Object.isFrozen(one.trainIds)).toBe(true);
    expect(one).toMatchObject({ sourceSha256: SHA, seed: 1, method: 'stratified', evalFraction: 0.1 });
  });

  it('stratifies: each class keeps its share in eval, and ids are a partition', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 2, max: 60 }), fc.integer(), fc.double({ min: 0.05, max: 0.5, noNaN: true }), (na, nb, seed, evalFraction) => {
        const data = items({ a: na, b: nb });
        const split = computeSplit(data, { seed, evalFraction }, SHA);
        const all = [...split.trainIds, ...split.evalIds];
        expect(new Set(all).size).toBe(data.length);
        for (const [label, n] of [
          ['a', na],
          ['b', nb],
        ] as const) {
          const inEval = split.evalIds.filter((id) => data[Number(id) - 1].label === label).length;
          expect(inEval).toBe(Math.max(1, Math.round(n * evalFraction)) === n ? n - 1 : Math.max(1, Math.round(n * evalFraction)));
        }
      }),
    );
  });

  it('takes exactly k examples per class for few-shot, the rest for eval', () => {
    const data = items({ a: 20, b: 9, c: 5 });
    const split = computeSplit(data, { method: 'kshot', k: 4, seed: 3 }, SHA);
    const count = (ids: readonly string[], label: string): number => ids.filter((id) => data[Number(id) - 1].label === label).length;
    expect(['a', 'b', 'c'].map((l) => count(split.trainIds, l))).toEqual([4, 4, 4]);
    expect(split.evalIds).toHaveLength(34 - 12);
    expect(split).toMatchObject({ method: 'kshot', k: 4 });
    expect(() => computeSplit(data, { method: 'kshot', k: 6 }, SHA)).toThrowError(/label "c" has 5 distinct examples, fewer than k = 6/);
  });

  it('never puts copies of one example on both sides', () => {
    const data: SplitItem[] = Array.from({ length: 40 }, (_, i) => ({ id: String(i + 1), label: 'x', key: i % 10 }));
    for (let seed = 0; seed < 20; seed++) {
      const split = computeSplit(data, { seed, evalFraction: 0.3 }, SHA);
      const trainKeys = new Set(split.trainIds.map((id) => data[Number(id) - 1].key));
      expect(split.evalIds.some((id) => trainKeys.has(data[Number(id) - 1].key))).toBe(false);
    }
  });

  it('adds a test side and splits unlabelled data at random', () => {
    const data = Array.from({ length: 100 }, (_, i) => ({ id: String(i + 1), key: i }));
    const split = computeSplit(data, { seed: 5, evalFraction: 0.1, testFraction: 0.2 }, SHA);
    expect(split.method).toBe('random');
    expect([split.trainIds.length, split.evalIds.length, split.testIds!.length]).toEqual([70, 10, 20]);
  });
});

describe('frozen ids', () => {
  /** Twelve examples with distinct content; every third is labelled b, the rest a. */
  const twelve = Array.from({ length: 12 }, (_, i) => ({ id: String(i + 1), label: i % 3 === 0 ? 'b' : 'a', key: i }));

  it('a dataset split gives exactly these ids for its seed (a change of generator or algorithm shows here)', () => {
    expect(computeSplit(twelve, { seed: 7, evalFraction: 0.25 }, SHA)).toMatchObject({ trainIds: ['1', '2', '5', '6', '7', '8', '9', '10', '11'], evalIds: ['3', '4', '12'] });
    const unlabelled = twelve.map(({ id, key }) => ({ id, key }));
    expect(computeSplit(unlabelled, { seed: 7, evalFraction: 0.25, testFraction: 0.25 }, SHA)).toMatchObject({
      trainIds: ['2', '4', '5', '7', '9', '10'],
      evalIds: ['6', '8', '12'],
      testIds: ['1', '3', '11'],
    });
    expect(computeSplit(twelve, { seed: 7, method: 'kshot', k: 2 }, SHA)).toMatchObject({ trainIds: ['3', '4', '7', '12'], evalIds: ['1', '2', '5', '6', '8', '9', '10', '11'] });
  });

  it("a run's split gives the ids it gave before the two split modules became one (published runs reproduce)", () => {
    // Values from engine/train/split.ts as it was (commit 136f6fc).
    expect(splitExamples(twelve, { splitSeed: 0, evalSplit: 0.25, kPerClass: null, seed: 0 })).toEqual({
      trainIds: ['2', '3', '4', '5', '7', '8', '10', '11', '12'],
      evalIds: ['1', '6', '9'],
    });
    expect(splitExamples(twelve, { splitSeed: 0, evalSplit: 0.25, kPerClass: 2, seed: 3 })).toEqual({ trainIds: ['2', '4', '10', '12'], evalIds: ['1', '6', '9'] });
  });

  it('refuses a seed that is not an integer in one line', () => {
    expect(() => computeSplit(twelve, { seed: 1.5 }, SHA)).toThrowError(/^the split seed must be an integer, got 1.5$/);
  });
});

describe('split files', () => {
  it('flags ids in both sides, repeated content, unknown ids and another file', () => {
    const data = [
      { id: '1', key: 1, line: 2 },
      { id: '2', key: 2, line: 3 },
      { id: '3', key: 1, line: 4 },
    ];
    const problems = checkSplit({ sourceSha256: 'b'.repeat(64), seed: 0, method: 'file', trainIds: ['1', '2'], evalIds: ['2', '3', '9'] }, data, SHA, {
      dataset: 'd.csv',
      split: 's.json',
    });
    expect(problems.map((p) => [p.kind, p.file, p.line])).toEqual([
      ['bad_split', 's.json', undefined],
      ['bad_split', 's.json', undefined],
      ['train_eval_overlap', 's.json', 3],
      ['train_eval_overlap', 'd.csv', 4],
    ]);
  });
});

describe('makeSplit on files', () => {
  it('hashes the content: same seed → same split, different content → different sourceSha256', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const rowsA = Array.from({ length: 40 }, (_, i) => `example ${i},${i % 2 ? 'pos' : 'neg'}`);
      const a = join(dir, 'a.csv');
      const b = join(dir, 'b.csv');
      await writeFile(a, `text,label\n${rowsA.join('\n')}\n`);
      await writeFile(b, `text,label\n${rowsA.join('\n')}\nexample 40,pos\n`);
      const s1 = await makeSplit(a, { seed: 11, evalFraction: 0.25 });
      const s2 = await makeSplit(a, { seed: 11, evalFraction: 0.25 });
      const other = await makeSplit(b, { seed: 11, evalFraction: 0.25 });
      expect(s2).toEqual(s1);
      expect(s1.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(other.sourceSha256).not.toBe(s1.sourceSha256);
      expect(s1.evalIds).toHaveLength(10);

      // An existing split file is used as given, and checked against the data.
      const splitFile = join(dir, 'split.json');
      await writeFile(splitFile, JSON.stringify({ train: s1.trainIds, eval: s1.evalIds }));
      const fromFile = await makeSplit(a, { method: 'file', file: splitFile });
      expect(fromFile).toMatchObject({ method: 'file', trainIds: s1.trainIds, evalIds: s1.evalIds, sourceSha256: s1.sourceSha256 });
      await writeFile(splitFile, JSON.stringify({ train: s1.trainIds, eval: [...s1.evalIds, s1.trainIds[0]] }));
      await expect(makeSplit(a, { method: 'file', file: splitFile })).rejects.toBeInstanceOf(ApiError);
      const inspected = await inspectDataset(a, { split: { method: 'file', file: splitFile } });
      expect(inspected.errors).toEqual([expect.objectContaining({ kind: 'train_eval_overlap', file: splitFile })]);
    } finally {
      await cleanup();
    }
  });
});
