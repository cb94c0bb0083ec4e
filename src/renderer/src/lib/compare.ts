// The numbers of a comparison as the results table shows them: per method, the mean and spread over seeds,
// and which value is best in each column; plus the differences between two runs' configurations.
import type { RunSummary } from '@shared/contract';

export interface MethodResult {
  method: string;
  runs: number;
  finished: number;
  trainableParams: number | null;
  accuracyMean: number | null;
  /** Sample standard deviation over seeds (0 with one seed). */
  accuracyStd: number | null;
  evalLoss: number | null;
  /** Mean exact match of greedy generations (generation tasks evaluated with evalGenerate). */
  exactMatch: number | null;
  /** Mean over finished seeds of each run's whole-run training throughput (real tokens ÷ optimiser-step time). */
  tokensPerSecond: number | null;
  peakMemoryBytes: number | null;
  wallSeconds: number | null;
  /** The test file's (finalTest: training.start testDatasetId, `--eval-data`) accuracy mean, its std and mean loss; null without one. */
  testAccuracyMean: number | null;
  testAccuracyStd: number | null;
  testEvalLoss: number | null;
}

export type ResultColumn = 'trainableParams' | 'accuracyMean' | 'evalLoss' | 'exactMatch' | 'tokensPerSecond' | 'peakMemoryBytes' | 'wallSeconds';

/** Whether a larger value is better, per column. */
export const HIGHER_IS_BETTER: Record<ResultColumn, boolean> = {
  trainableParams: false,
  accuracyMean: true,
  evalLoss: false,
  exactMatch: true,
  tokensPerSecond: true,
  peakMemoryBytes: false,
  wallSeconds: false,
};

export function mean(values: number[]): number | null {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

export function sampleStd(values: number[]): number | null {
  if (values.length === 0) return null;
  if (values.length === 1) return 0;
  const m = mean(values) as number;
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}

const numbers = (values: (number | null | undefined)[]): number[] => values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

/** One row per method (in the order given), over its finished runs. */
export function summariseByMethod(runs: RunSummary[], methodOrder: string[]): MethodResult[] {
  return methodOrder.map((method) => {
    const all = runs.filter((r) => r.method === method);
    const done = all.filter((r) => r.status === 'finished');
    return {
      method,
      runs: all.length,
      finished: done.length,
      trainableParams: all[0]?.trainableParams ?? null,
      accuracyMean: mean(numbers(done.map((r) => r.final?.accuracy))),
      accuracyStd: sampleStd(numbers(done.map((r) => r.final?.accuracy))),
      evalLoss: mean(numbers(done.map((r) => r.final?.evalLoss))),
      exactMatch: mean(numbers(done.map((r) => r.final?.exactMatch))),
      tokensPerSecond: mean(numbers(done.map((r) => r.result?.tokensPerSecond))),
      peakMemoryBytes: numbers(done.map((r) => r.result?.peakMemoryBytes)).reduce<number | null>((a, b) => (a === null ? b : Math.max(a, b)), null),
      wallSeconds: mean(numbers(done.map((r) => r.result?.wallSeconds))),
      testAccuracyMean: mean(numbers(done.map((r) => r.finalTest?.accuracy))),
      testAccuracyStd: sampleStd(numbers(done.map((r) => r.finalTest?.accuracy))),
      testEvalLoss: mean(numbers(done.map((r) => r.finalTest?.evalLoss))),
    };
  });
}

/** The methods holding the best value of each column (ties all marked; columns with < 2 values: none). */
export function bestPerColumn(rows: MethodResult[]): Record<ResultColumn, Set<string>> {
  const out = {} as Record<ResultColumn, Set<string>>;
  for (const column of Object.keys(HIGHER_IS_BETTER) as ResultColumn[]) {
    const valued = rows.filter((r) => typeof r[column] === 'number' && Number.isFinite(r[column] as number));
    out[column] = new Set();
    if (valued.length < 2) continue;
    const values = valued.map((r) => r[column] as number);
    const best = HIGHER_IS_BETTER[column] ? Math.max(...values) : Math.min(...values);
    for (const r of valued) if (r[column] === best) out[column].add(r.method);
  }
  return out;
}

export interface ConfigDifference {
  key: string;
  left: string;
  right: string;
}

/** The settings that define a run, flattened to "section.key" → printable value. */
export function runConfig(run: RunSummary): Record<string, string> {
  const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  const flat: Record<string, string> = {
    method: run.method,
    learningRate: show(run.learningRate),
    seed: show(run.seed),
    totalSteps: show(run.totalSteps),
    trainableParams: show(run.trainableParams),
    backend: run.backend,
    'model.path': run.baseModel.path,
    'dataset.path': run.dataset.path,
    'dataset.kPerClass': show(run.dataset.kPerClass),
    'dataset.splitSeed': show(run.dataset.splitSeed),
    'dataset.trainCount': show(run.dataset.trainCount),
    'dataset.evalCount': show(run.dataset.evalCount),
  };
  for (const [k, v] of Object.entries(run.methodOptions)) flat[`options.${k}`] = show(v);
  for (const [k, v] of Object.entries(run.trainer)) flat[`trainer.${k}`] = show(v);
  return flat;
}

/** Keys whose values differ (a key only one run has shows "—" on the other side), sorted. */
export function diffConfigs(left: RunSummary, right: RunSummary): ConfigDifference[] {
  const a = runConfig(left);
  const b = runConfig(right);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => a[k] !== b[k]).map((key) => ({ key, left: a[key] ?? '—', right: b[key] ?? '—' }));
}
