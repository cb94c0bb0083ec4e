// One benchmark row per process count from runs alternated `repeat` times (ours at each count, PyTorch once per
// repeat): medians, each repeat's step, the gain over one process, and the reference where its cores match.
import { median } from './report';

/** --data-parallel's values as typed ("2", or "1", "2"): whole numbers ≥ 1, a bad one named as typed. */
export function parseProcessCounts(values: string[]): number[] {
  return values.map((text) => {
    if (!/^[1-9][0-9]*$/.test(text)) throw new Error(`--data-parallel ${text}: use whole numbers ≥ 1, e.g. 2 or 1,2`);
    return Number(text);
  });
}

/** What one timed run of ours reports (train-bench's measureTrainStep). */
export interface MeasuredRun {
  msPerStep: number;
  peakRssBytes: number;
}

/** One run of the PyTorch reference. */
export interface ReferenceRun {
  name: string;
  /** Absent from older reference scripts: then derived from tokensPerSecond. */
  msPerStep?: number;
  tokensPerSecond: number;
  peakRssBytes?: number;
  processMaxRssBytes?: number;
}

export interface CombinedRow {
  msPerStep: number;
  tokensPerSecond: number;
  peakRssBytes: number;
  /** ms/step of each repeat (more than one repeat). */
  runsMs?: number[];
  /** One process's median step over this row's (a count above 1, with 1 among the counts). */
  overOneProcess?: number;
  reference?: {
    name: string;
    tokensPerSecond: number;
    msPerStep: number;
    threads: number;
    runsMs?: number[];
    peakRssBytes?: number;
    processMaxRssBytes?: number;
  };
}

/**
 * Rows in ascending process count. Each keeps the median run's own fields (its step split, say), so they describe
 * the step it reports. PyTorch ran on the cores of the largest count (referenceThreads): only that count's row is
 * compared with it.
 */
export function combineRepeats<R extends MeasuredRun>(opts: {
  runs: Map<number, R[]>;
  refs: ReferenceRun[];
  tokensPerStep: number;
  referenceThreads: number;
}): (R & CombinedRow)[] {
  const counts = [...opts.runs.keys()].sort((a, b) => a - b);
  const largest = counts[counts.length - 1];
  const msOf = (run: ReferenceRun) => run.msPerStep ?? (opts.tokensPerStep * 1000) / run.tokensPerSecond;
  const oneProcessMs = counts.length > 1 && opts.runs.get(1)?.length ? median(opts.runs.get(1)!.map((r) => r.msPerStep)) : undefined;
  const maxOf = (xs: (number | undefined)[]) => (xs.length && xs.every((x) => typeof x === 'number') ? Math.max(...(xs as number[])) : undefined);
  return counts.map((count) => {
    const runs = opts.runs.get(count)!;
    const msPerStep = median(runs.map((r) => r.msPerStep));
    const row: R & CombinedRow = {
      ...runs.find((r) => r.msPerStep === msPerStep)!,
      msPerStep,
      tokensPerSecond: (opts.tokensPerStep * 1000) / msPerStep,
      peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes)),
    };
    if (count > 1 && oneProcessMs !== undefined) row.overOneProcess = oneProcessMs / msPerStep;
    if (runs.length > 1) row.runsMs = runs.map((r) => r.msPerStep);
    if (opts.refs.length && count === largest) {
      const refMs = median(opts.refs.map(msOf));
      row.reference = {
        name: opts.refs[0]!.name,
        tokensPerSecond: (opts.tokensPerStep * 1000) / refMs,
        msPerStep: refMs,
        threads: opts.referenceThreads,
        peakRssBytes: maxOf(opts.refs.map((r) => r.peakRssBytes)),
        processMaxRssBytes: maxOf(opts.refs.map((r) => r.processMaxRssBytes)),
      };
      if (opts.refs.length > 1) row.reference.runsMs = opts.refs.map(msOf);
    }
    return row;
  });
}
