// `npm run bench -- train --data-parallel 1,2 --repeat N`: the rows' medians, the gain over one process and which
// row is compared with PyTorch come from combineRepeats; a wrong pairing would put a false ratio in performance.md.
import { describe, expect, it } from 'vitest';
import { median } from '../../bench/report';
import { combineRepeats, parseProcessCounts } from '../../bench/repeat-rows';

interface Run {
  msPerStep: number;
  peakRssBytes: number;
  split?: string;
}

const run = (msPerStep: number, peakRssBytes = 100, split?: string): Run => ({ msPerStep, peakRssBytes, ...(split ? { split } : {}) });

describe('bench repeat rows', () => {
  it('reads --data-parallel as whole numbers ≥ 1 and names a bad value as typed', () => {
    expect(parseProcessCounts(['1', '2'])).toEqual([1, 2]);
    expect(parseProcessCounts([])).toEqual([]);
    for (const bad of ['x', '0', '1.5', '2.0', '-1']) expect(() => parseProcessCounts(['1', bad])).toThrow(`--data-parallel ${bad}: use whole numbers ≥ 1`);
  });

  it('takes the upper median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(3);
  });

  it('gives each process count its median, its runs, the gain over one process and the median run’s own fields', () => {
    const runs = new Map<number, Run[]>([
      [2, [run(3057, 90, 'first'), run(2913, 95, 'second'), run(3027, 80, 'third')]],
      [1, [run(4479), run(4866, 300), run(4992)]],
    ]);
    const [one, two] = combineRepeats({ runs, refs: [], tokensPerStep: 512, referenceThreads: 2 });
    expect(one.msPerStep).toBe(4866);
    expect(one.runsMs).toEqual([4479, 4866, 4992]);
    expect(one.overOneProcess).toBeUndefined();
    expect(one.peakRssBytes).toBe(300);
    expect(two.msPerStep).toBe(3027);
    expect(two.split).toBe('third'); // the median run's, not the first repeat's
    expect(two.peakRssBytes).toBe(95); // the highest of any repeat
    expect(two.overOneProcess).toBeCloseTo(4866 / 3027, 12);
    expect(two.tokensPerSecond).toBeCloseTo(512 / 3.027, 9);
  });

  it('compares only the largest count with PyTorch, which ran on its cores', () => {
    const runs = new Map<number, Run[]>([
      [1, [run(4000), run(4200)]],
      [2, [run(2500), run(2600)]],
    ]);
    const refs = [
      { name: 'torch', msPerStep: 2000, tokensPerSecond: 256, peakRssBytes: 10 },
      { name: 'torch', tokensPerSecond: 512 / 2.2, peakRssBytes: 12 }, // an older script's row: ms from tok/s
    ];
    const [one, two] = combineRepeats({ runs, refs, tokensPerStep: 512, referenceThreads: 2 });
    expect(one.reference).toBeUndefined();
    expect(two.reference?.msPerStep).toBeCloseTo(2200, 9);
    expect(two.reference?.runsMs?.[1]).toBeCloseTo(2200, 9);
    expect(two.reference?.threads).toBe(2);
    expect(two.reference?.peakRssBytes).toBe(12);
    expect(two.reference?.processMaxRssBytes).toBeUndefined();
    expect(two.overOneProcess).toBeCloseTo(4200 / 2600, 12);
  });

  it('leaves a single count and a single repeat as one plain row', () => {
    const [only, ...rest] = combineRepeats({
      runs: new Map([[2, [run(2800)]]]),
      refs: [{ name: 'torch', msPerStep: 1900, tokensPerSecond: 269 }],
      tokensPerStep: 512,
      referenceThreads: 2,
    });
    expect(rest).toHaveLength(0);
    expect(only.runsMs).toBeUndefined();
    expect(only.overOneProcess).toBeUndefined();
    expect(only.reference?.msPerStep).toBe(1900);
    expect(only.reference?.runsMs).toBeUndefined();
  });
});
