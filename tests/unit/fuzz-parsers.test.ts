// The seeded CI slice of `npm run fuzz`: 300 cases per parser and API target (the full run does ≥ 10,000).
// A failure prints the counterexample and the command that replays it.
import { describe, expect, it } from 'vitest';
import { runTarget } from '../fuzz/lib/run-target';
import { TARGETS } from '../fuzz/targets';

export const CI_CASES = 300;
export const CI_SEED = 20250601;
// Generous in CI (files run in parallel on 2 cores); the CLI bounds cases at 2–5 s.
const CI_CASE_MS = 15_000;

describe('fuzzing (seeded CI slice)', () => {
  for (const target of TARGETS.filter((t) => t.name !== 'registry')) {
    it(`${target.name}: ${CI_CASES} cases, no crash, no hang`, async () => {
      const report = await runTarget(target, { cases: CI_CASES, seed: CI_SEED, maxCaseMs: CI_CASE_MS });
      expect(report.failure ? `${report.failure.message}\n  input: ${report.failure.counterexample}\n  replay: ${report.failure.replay}` : 'ok').toBe('ok');
      expect(report.cases).toBe(CI_CASES);
      expect(report.crashes + report.hangs).toBe(0);
    });
  }
});
