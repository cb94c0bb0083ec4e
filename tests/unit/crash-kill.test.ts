// The CI slice of the kill -9 harness (`npm run fuzz -- crash` kills 100 times): 20 SIGKILLs of the real
// training process and of the adapter/export writer, each followed by the registry, status, file and resume
// checks of tests/fuzz/crash/harness.ts.
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_EVERY, runCrashHarness } from '../fuzz/crash/harness';

describe('crash safety under kill -9', () => {
  it('survives 20 kills: registry opens, statuses truthful, no half-written file, resume loses ≤ one interval', async () => {
    const report = await runCrashHarness({ kills: 20, seed: 20250601 });
    expect(report.failures.join('\n')).toBe('');
    expect(report.attempted).toBe(20);
    expect(report.survived).toBe(20);
    expect(report.maxLostSteps).toBeLessThanOrEqual(CHECKPOINT_EVERY);
    expect(report.resumes).toBeGreaterThan(0);
  }, 600_000);
});
