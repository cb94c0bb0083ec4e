// `npm test`: every runner (Vitest units, Playwright end-to-end, pytest interop), then one closing line
// "N passed, N failed, N skipped" summed over all of them. Exits non-zero when anything failed.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureBuilt } from './build-state.js';

const root = new URL('..', import.meta.url).pathname;
const results = join(root, 'test-results');
mkdirSync(results, { recursive: true });
const totals = { passed: 0, failed: 0, skipped: 0 };
const only = process.argv.slice(2); // e.g. `npm test -- unit e2e python`
const wants = (name) => only.length === 0 || only.includes(name);

function run(label, command, argv, env = {}) {
  console.log(`\n=== ${label}: ${command} ${argv.join(' ')}`);
  const r = spawnSync(command, argv, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

function add(label, counts, exitCode) {
  // A runner that crashed before reporting counts as one failure, never as silence.
  if (counts.passed + counts.failed + counts.skipped === 0 && exitCode !== 0) counts.failed = 1;
  console.log(`--- ${label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  for (const k of Object.keys(totals)) totals[k] += counts[k];
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
  const code = run('unit (vitest)', process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile=${out}`]);
  const report = readJson(out);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  if (report) {
    counts.passed = report.numPassedTests ?? 0;
    counts.failed = (report.numFailedTests ?? 0) + (report.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0).length;
    counts.skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  }
  add('unit', counts, code);
}

if (wants('e2e')) {
  const out = join(results, 'playwright.json');
  const code = run('end-to-end (playwright)', process.execPath, [join(root, 'node_modules/@playwright/test/cli.js'), 'test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: out });
  const report = readJson(out);
  const counts = { passed: 0, failed: 0, skipped: 0 };
  if (report?.stats) {
    counts.passed = report.stats.expected ?? 0;
    counts.failed = (report.stats.unexpected ?? 0) + (report.stats.flaky ?? 0) * 0;
    counts.skipped = report.stats.skipped ?? 0;
    if ((report.errors ?? []).length > 0 && counts.failed === 0) counts.failed = report.errors.length;
  }
  add('e2e', counts, code);
}

if (wants('python') && existsSync(join(root, 'python/tests'))) {
  const python = join(root, '.venv/bin/python');
  if (!existsSync(python)) {
    console.log('\n=== python interop: skipped — no .venv (run `bash python/setup-venv.sh` first)');
    totals.skipped += 1;
  } else {
    const out = join(results, 'pytest.json');
    const code = run('python interop (pytest)', python, ['-m', 'pytest', '-q', 'python/tests', '-p', 'no:cacheprovider', `--junitxml=${out}.xml`]);
    const xml = existsSync(`${out}.xml`) ? readFileSync(`${out}.xml`, 'utf8') : '';
    const attr = (name) => Number((xml.match(new RegExp(`<testsuite[^>]*\\s${name}="(\\d+)"`)) ?? [])[1] ?? 0);
    const tests = attr('tests');
    const failed = attr('failures') + attr('errors');
    const skipped = attr('skipped');
    add('python', { passed: tests - failed - skipped, failed, skipped }, code === 5 ? 0 : code);
  }
}

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
