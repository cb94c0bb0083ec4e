// A fuzz target: an input generator (fast-check arbitrary) and one call into the code under test. A case
// ends accepted, or rejected with a clear ApiError / clear located problems; anything else fails the case.
import type fc from 'fast-check';

/** How one case ended when it did not fail: accepted as valid input, or refused with this code/kind. */
export type CaseOutcome = { accepted: true } | { rejected: string };

export const ACCEPTED: CaseOutcome = { accepted: true };
export const rejected = (code: string): CaseOutcome => ({ rejected: code });

export interface TargetContext {
  /** A private temporary folder for this target's run (removed afterwards). */
  tmp: string;
}

export interface FuzzTarget<T = unknown> {
  name: string;
  /** One line: what is generated and which function it is fed to. */
  description: string;
  /** Prepares fixtures in ctx.tmp (once per run). */
  setup?(ctx: TargetContext): Promise<void> | void;
  arbitrary(ctx: TargetContext): fc.Arbitrary<T>;
  /** Runs one case. Throws CaseFailure (or anything unclear) for a crash. */
  run(input: T, ctx: TargetContext): Promise<CaseOutcome>;
  /** Wall-clock bound of one case (default 10 s; a hang is a case past it). */
  maxCaseMs?: number;
  /** Shown in reports instead of the raw input (which may be large/binary). */
  describeInput?(input: T): string;
}

export function defineTarget<T>(target: FuzzTarget<T>): FuzzTarget<T> {
  return target;
}
