// The seeded CI slice of the registry fuzz target (a real data folder, mutated 300 times).
import { describe, expect, it } from 'vitest';
import { runTarget } from '../fuzz/lib/run-target';
import { registryTarget } from '../fuzz/targets/registry';

describe('fuzzing the registry (seeded CI slice)', () => {
  it('registry: 300 cases, listings survive every damaged file, refusals are clear', async () => {
    const report = await runTarget(registryTarget, { cases: 300, seed: 20250601, maxCaseMs: 15_000 });
    expect(report.failure ? `${report.failure.message}\n  input: ${report.failure.counterexample}\n  replay: ${report.failure.replay}` : 'ok').toBe('ok');
    expect(report.cases).toBe(300);
  });
});
