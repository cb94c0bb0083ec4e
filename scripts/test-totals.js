// The closing line's arithmetic across passes: `npm test -- … --save-totals FILE` keeps one pass's totals,
// and a later `--add-totals FILE` adds them, so .ci/run's two passes end in one "N passed, N failed, N
// skipped" line. A pass that saved nothing (it crashed) counts as one failure, never as a silent zero.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const KEYS = ['passed', 'failed', 'skipped'];
// Failed tests' one-line descriptions travel with the counts, capped so the file stays small.
const MAX_FAILURES = 50;
const MAX_FILE = 64 * 1024;

/** Writes `totals` (and the pass's label, and the failed tests' lines) to `file` atomically (tmp + rename). */
export function saveTotals(file, label, totals) {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  const failures = (totals.failures ?? []).slice(0, MAX_FAILURES).map((f) => String(f).slice(0, 400));
  writeFileSync(`${path}.tmp`, JSON.stringify({ label: label ?? null, ...Object.fromEntries(KEYS.map((k) => [k, totals[k]])), failures }) + '\n');
  renameSync(`${path}.tmp`, path);
}

/** Adds each saved pass in `files` into `totals` (in place, its failed tests' lines too where `totals.failures`
 * is a list), logging one line per pass. */
export function addSavedTotals(files, totals, log = console.log) {
  for (const file of files) {
    let saved;
    try {
      // A saved totals file is one short line; anything much larger is not one.
      const text = readFileSync(file, 'utf8');
      saved = text.length < MAX_FILE ? JSON.parse(text) : undefined;
    } catch {
      saved = undefined;
    }
    if (!saved || !KEYS.every((k) => Number.isInteger(saved[k]) && saved[k] >= 0)) {
      log(`--- earlier pass: ${file} is missing or not a saved totals file (did that pass crash?); counted as 1 failure`);
      totals.failed += 1;
      if (Array.isArray(totals.failures)) totals.failures.push(`earlier pass: ${file} is missing or not a saved totals file`);
      continue;
    }
    log(`--- earlier pass${saved.label ? ` (${saved.label})` : ''}: ${saved.passed} passed, ${saved.failed} failed, ${saved.skipped} skipped`);
    for (const k of KEYS) totals[k] += saved[k];
    if (Array.isArray(totals.failures) && Array.isArray(saved.failures)) {
      totals.failures.push(...saved.failures.filter((f) => typeof f === 'string').slice(0, MAX_FAILURES));
    }
  }
  return totals;
}
