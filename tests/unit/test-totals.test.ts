// scripts/test-totals.js: .ci/run's wasm-only unit pass and the full run end in one closing line; a pass that
// saved nothing (it crashed) is one failure, never a silent zero.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

type Totals = { passed: number; failed: number; skipped: number; failures?: string[] };
const root = resolve(import.meta.dirname, '../..');
const { addSavedTotals, saveTotals } = (await import(pathToFileURL(join(root, 'scripts/test-totals.js')).href)) as {
  saveTotals(file: string, label: string | undefined, totals: Totals): void;
  addSavedTotals(files: string[], totals: Totals, log?: (line: string) => void): Totals;
};
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-totals-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('test totals across passes', () => {
  it('a saved pass adds into the next pass and is named in its line', () => {
    const file = join(tmp, 'nested', 'wasm.json');
    saveTotals(file, 'wasm only', { passed: 668, failed: 1, skipped: 3 });
    const lines: string[] = [];
    expect(addSavedTotals([file], { passed: 700, failed: 0, skipped: 5 }, (l) => lines.push(l))).toEqual({ passed: 1368, failed: 1, skipped: 8 });
    expect(lines).toEqual(['--- earlier pass (wasm only): 668 passed, 1 failed, 3 skipped']);
  });

  it('a missing or malformed totals file counts as one failure', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"passed": 3, "failed": -1, "skipped": 0}');
    const lines: string[] = [];
    expect(addSavedTotals([join(tmp, 'absent.json'), bad], { passed: 2, failed: 0, skipped: 0 }, (l) => lines.push(l))).toEqual({ passed: 2, failed: 2, skipped: 0 });
    expect(lines[0]).toMatch(/absent\.json is missing or not a saved totals file \(did that pass crash\?\); counted as 1 failure$/);
  });

  it("the earlier pass's failed tests are named again at the end of the later pass", () => {
    const file = join(tmp, 'named.json');
    saveTotals(file, 'wasm only', { passed: 10, failed: 1, skipped: 0, failures: ['unit (wasm only): a.test.ts › b: expected 1 to be 2'] });
    const totals = addSavedTotals([file], { passed: 5, failed: 1, skipped: 0, failures: ['unit: c.test.ts › d'] }, () => {});
    expect(totals).toEqual({ passed: 15, failed: 2, skipped: 0, failures: ['unit: c.test.ts › d', 'unit (wasm only): a.test.ts › b: expected 1 to be 2'] });
  });
});
