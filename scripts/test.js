// `npm test`: every runner (Vitest units, Playwright end-to-end, pytest interop), then one closing line
// "N passed, N failed, N skipped" summed over all of them. Exits non-zero when anything failed.
//
//   npm test -- [unit] [e2e] [python]        only these runners (default: all)
//     --label TEXT                           names this pass in the per-runner lines (e.g. "wasm only")
//     --save-totals FILE                     also writes this pass's totals to FILE (JSON)
//     --add-totals FILE                      adds an earlier pass's saved totals into the closing line
// .ci/run uses the last three to sum a wasm-only unit pass and the full run into one closing line.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt } from './build-state.js';
import { ensureChromium, ensurePython, systemProbes } from './test-prereqs.js';
import { junitFailures, playwrightFailures, vitestFailures } from './test-failures.js';
import { addSavedTotals, saveTotals } from './test-totals.js';

const root = new URL('..', import.meta.url).pathname;
const results = join(root, 'test-results');
const RUNNERS = ['unit', 'e2e', 'python'];
let cli;
try {
  cli = parseArgs({
    options: { label: { type: 'string' }, 'save-totals': { type: 'string' }, 'add-totals': { type: 'string', multiple: true } },
    allowPositionals: true,
    strict: true,
  });
  const unknown = cli.positionals.find((name) => !RUNNERS.includes(name));
  if (unknown !== undefined) throw new Error(`unknown runner "${unknown}" (use ${RUNNERS.join(', ')})`);
} catch (err) {
  console.error(`npm test: ${err.message}`);
  process.exit(2);
}
mkdirSync(results, { recursive: true });
const totals = { passed: 0, failed: 0, skipped: 0, failures: [] };
const only = cli.positionals; // e.g. `npm test -- unit e2e python`
const wants = (name) => only.length === 0 || only.includes(name);
const suffix = cli.values.label ? ` (${cli.values.label})` : '';
const probes = systemProbes(root);

/** Runs one runner; its report file is removed first so a crash can never be read as an earlier pass's report. */
function run(label, command, argv, env = {}, report = undefined) {
  if (report) rmSync(report, { force: true });
  console.log(`\n=== ${label}: ${command} ${argv.join(' ')}`);
  const r = spawnSync(command, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function add(label, counts, exitCode, failures = []) {
  // A runner that crashed before reporting counts as one failure, never as silence.
  if (counts.passed + counts.failed + counts.skipped === 0 && exitCode !== 0) {
    counts.failed = 1;
    failures = [`${label}: the runner exited ${exitCode} before writing its report`];
  }
  console.log(`--- ${label}${suffix}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  for (const k of ['passed', 'failed', 'skipped']) totals[k] += counts[k];
  totals.failures.push(...failures.map((f) => `${label}${suffix}: ${f}`));
}

/** A runner whose prerequisite is missing and could not be installed: one failure, with the line saying what to run. */
function failPrerequisite(label, line) {
  console.log(`\n=== ${line}`);
  add(label, { passed: 0, failed: 1, skipped: 0 }, 1, [line]);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

ensureBuilt();

if (wants('unit')) {
  const out = join(results, 'vitest.json');
  const code = run(
    'unit (vitest)',
    process.execPath,
    [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}`],
    {},
    out,
  );
  const report = readJson(out);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  if (report) {
    counts.passed = report.numPassedTests ?? 0;
    counts.failed = (report.numFailedTests ?? 0) + (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
    counts.skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  }
  add('unit', counts, code, vitestFailures(report, root));
}

const chromiumProblem = wants('e2e') ? ensureChromium(probes) : undefined;
if (chromiumProblem) {
  failPrerequisite('e2e', chromiumProblem);
} else if (wants('e2e')) {
  const out = join(results, 'playwright.json');
  const code = run('end-to-end (playwright)', process.execPath, [join(root, 'node_modules/@playwright/test/cli.js'), 'test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: out }, out);
  const report = readJson(out);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  if (report?.stats) {
    counts.passed = report.stats.expected ?? 0;
    counts.failed = (report.stats.unexpected ?? 0) + (report.stats.flaky ?? 0) * 0;
    counts.skipped = report.stats.skipped ?? 0;
    if ((report.errors ?? []).length > 0 && counts.failed === 0) counts.failed = report.errors.length;
  }
  add('e2e', counts, code, playwrightFailures(report));
}

if (wants('python') && existsSync(join(root, 'python/tests'))) {
  const problem = ensurePython(probes);
  if (problem) {
    failPrerequisite('python', problem);
  } else {
    const python = join(root, '.venv/bin/python');
    const out = join(results, 'pytest.json');
    const code = run('python interop (pytest)', python, ['-m', 'pytest', '-q', 'python/tests', '-p', 'no:cacheprovider', `--junitxml=${out}.xml`], {}, `${out}.xml`);
    const xml = existsSync(`${out}.xml`) ? readFileSync(`${out}.xml`, 'utf8') : '';
    const attr = (name) => Number((xml.match(new RegExp(`<testsuite[^>]*\\s${name}="(\\d+)"`)) ?? [])[1] ?? 0);
    const tests = attr('tests');
    const failed = attr('failures') + attr('errors');
    const skipped = attr('skipped');
    add('python', { passed: tests - failed - skipped, failed, skipped }, code === 5 ? 0 : code, junitFailures(xml));
  }
}

// Saved before earlier passes are added, so each saved file holds one pass.
if (cli.values['save-totals']) saveTotals(cli.values['save-totals'], cli.values.label, totals);
addSavedTotals(cli.values['add-totals'] ?? [], totals);

// Which tests failed, one line each, just above the closing line: the end of a long log is what CI shows.
if (totals.failures.length > 0) {
  console.log('\nfailed:');
  for (const f of totals.failures) console.log(`  ${f}`);
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
