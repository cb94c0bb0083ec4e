// Runs one target for N seeded cases with fast-check: every case bounded in time (a hang fails it), outcomes
// tallied, the first failure shrunk to a small counterexample with the seed and path to replay it.
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CaseFailure, judgeError } from './verdict';
import type { CaseOutcome, FuzzTarget, TargetContext } from './target';

export interface TargetReport {
  target: string;
  description: string;
  seed: number;
  /** Cases run before any failure (= requested cases when none failed). */
  cases: number;
  accepted: number;
  /** Rejections by code/kind (clear ApiErrors and located dataset problems). */
  rejected: Record<string, number>;
  crashes: number;
  hangs: number;
  /** Slowest case in milliseconds, and its input (shortened). */
  slowestCaseMs: number;
  slowestCase?: string;
  wallSeconds: number;
  /** Largest resident set size seen between cases (MiB). */
  peakRssMiB: number;
  failure?: { kind: 'crash' | 'hang'; message: string; counterexample: string; path: string; replay: string };
}

export interface RunOptions {
  cases: number;
  seed: number;
  /** Overrides the target's per-case bound. */
  maxCaseMs?: number;
  /** Replays one failing case (fast-check path). */
  path?: string;
  /**
   * Before each case, its input is written here (synchronously), so a watchdog that has to kill a case stuck
   * in a synchronous loop can still say which input it was.
   */
  traceTo?: string;
  /** Writes the full counterexample (JSON) here when a case fails. */
  dumpTo?: string;
  /** Called every so often with cases done (progress for long runs and for the watchdog). */
  onProgress?: (done: number) => void;
}

const DEFAULT_CASE_MS = 10_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CaseFailure('hang', `case still running after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runTarget<T>(target: FuzzTarget<T>, opts: RunOptions): Promise<TargetReport> {
  const tmp = mkdtempSync(join(scratchRoot(), `prefixlab-fuzz-${target.name.replace(/[^\w-]/g, '_')}-`));
  const ctx: TargetContext = { tmp };
  const maxCaseMs = opts.maxCaseMs ?? target.maxCaseMs ?? DEFAULT_CASE_MS;
  const report: TargetReport = {
    target: target.name,
    description: target.description,
    seed: opts.seed,
    cases: 0,
    accepted: 0,
    rejected: {},
    crashes: 0,
    hangs: 0,
    slowestCaseMs: 0,
    wallSeconds: 0,
    peakRssMiB: 0,
  };
  const started = performance.now();
  // A rejection nobody awaits would end the real process (Node's default): it fails the case that caused it.
  let unhandled: unknown;
  const onUnhandled = (reason: unknown): void => {
    unhandled ??= reason;
  };
  process.on('unhandledRejection', onUnhandled);
  // After the first failure fast-check only shrinks: those calls are not counted as cases.
  let hasFailed = false;
  try {
    await target.setup?.(ctx);
    const property = fc.asyncProperty(target.arbitrary(ctx), async (input) => {
      if (opts.traceTo) writeFileSync(opts.traceTo, `case ${report.cases + 1}\n${safeStringify(input)}\n`);
      const t0 = performance.now();
      let outcome: CaseOutcome;
      try {
        try {
          outcome = await withTimeout(target.run(input, ctx), maxCaseMs);
        } catch (err) {
          outcome = { rejected: judgeError(err) };
        }
        const ms = performance.now() - t0;
        if (ms > maxCaseMs) throw new CaseFailure('hang', `case took ${Math.round(ms)} ms (bound ${maxCaseMs} ms)`);
        await new Promise((resolve) => setImmediate(resolve));
        if (unhandled !== undefined) {
          const reason = unhandled instanceof Error ? `${unhandled.constructor.name}: ${unhandled.message}` : String(unhandled);
          unhandled = undefined;
          throw new CaseFailure('crash', `unhandled promise rejection (would end the process): ${reason}`);
        }
      } catch (err) {
        hasFailed = true;
        throw err;
      }
      const ms = performance.now() - t0;
      if (hasFailed) return;
      report.cases++;
      if (ms > report.slowestCaseMs) {
        report.slowestCaseMs = ms;
        report.slowestCase = (target.describeInput?.(input) ?? safeStringify(input)).slice(0, 300);
      }
      if ('accepted' in outcome) report.accepted++;
      else report.rejected[outcome.rejected] = (report.rejected[outcome.rejected] ?? 0) + 1;
      if (report.cases % 50 === 0) {
        report.peakRssMiB = Math.max(report.peakRssMiB, process.memoryUsage().rss / 2 ** 20);
        opts.onProgress?.(report.cases);
      }
    });
    const details = await fc.check(property, {
      numRuns: opts.cases,
      seed: opts.seed,
      ...(opts.path ? { path: opts.path } : {}),
      markInterruptAsFailure: true,
      interruptAfterTimeLimit: Math.max(120_000, opts.cases * maxCaseMs),
    });
    if (details.failed) {
      const error = details.errorInstance;
      const kind = error instanceof CaseFailure ? error.kind : 'crash';
      if (kind === 'hang') report.hangs = 1;
      else report.crashes = 1;
      const example = details.counterexample?.[0] as T | undefined;
      if (opts.dumpTo && example !== undefined) writeFileSync(opts.dumpTo, safeStringify(example));
      const shown = example === undefined ? '(interrupted)' : (target.describeInput?.(example) ?? safeStringify(example));
      report.failure = {
        kind,
        message: error instanceof Error ? error.message : String(error),
        counterexample: shown.length > 2000 ? `${shown.slice(0, 2000)}…` : shown,
        path: details.counterexamplePath ?? '',
        replay: `npm run fuzz -- ${target.name} --seed ${details.seed}${details.counterexamplePath ? ` --path ${details.counterexamplePath}` : ''}`,
      };
    }
  } finally {
    process.off('unhandledRejection', onUnhandled);
    rmSync(tmp, { recursive: true, force: true });
  }
  report.peakRssMiB = Math.round(Math.max(report.peakRssMiB, process.memoryUsage().rss / 2 ** 20));
  report.slowestCaseMs = Math.round(report.slowestCaseMs);
  report.wallSeconds = Math.round((performance.now() - started) / 100) / 10;
  return report;
}

/**
 * Where case files go: PREFIXLAB_FUZZ_TMP, else /dev/shm when it has room (thousands of small files and
 * fsyncs per target cost nothing in memory), else the OS temp folder.
 */
function scratchRoot(): string {
  if (process.env.PREFIXLAB_FUZZ_TMP) return process.env.PREFIXLAB_FUZZ_TMP;
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize > 1024 * 2 ** 20) return '/dev/shm';
  } catch {
    // no /dev/shm (macOS, Windows)
  }
  return tmpdir();
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) =>
      v instanceof Uint8Array ? `<${v.length} bytes: ${Buffer.from(v.subarray(0, 64)).toString('hex')}…>` : typeof v === 'bigint' ? `${v}n` : v,
    );
  } catch {
    return String(value);
  }
}
