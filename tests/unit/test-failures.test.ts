// scripts/test-failures.js: `npm test` ends by naming each failed test in one line, read from the runners' own
// reports (Vitest JSON, Playwright JSON, pytest JUnit XML), so CI's tail says what failed, not only how many.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const { firstLine, junitFailures, playwrightFailures, vitestFailures } = (await import(pathToFileURL(join(root, 'scripts/test-failures.js')).href)) as {
  firstLine(message: unknown): string;
  vitestFailures(report: unknown, root?: string): string[];
  playwrightFailures(report: unknown): string[];
  junitFailures(xml: string): string[];
};

describe('failed tests named from runner reports', () => {
  it('Vitest: failed assertions with their first message line, and a file that failed to load', () => {
    const report = {
      testResults: [
        {
          name: '/repo/src/a.test.ts',
          status: 'failed',
          assertionResults: [
            { fullName: 'suite passes', status: 'passed', failureMessages: [] },
            { fullName: 'suite breaks', status: 'failed', failureMessages: ['\u001b[31mAssertionError: expected 1 to be 2\u001b[39m\n    at foo (a.ts:1)'] },
          ],
        },
        { name: '/repo/src/b.test.ts', status: 'failed', assertionResults: [], message: 'Failed to load url ./missing.js' },
        { name: '/repo/src/c.test.ts', status: 'passed', assertionResults: [{ fullName: 'ok', status: 'passed' }] },
      ],
    };
    expect(vitestFailures(report, '/repo')).toEqual(['src/a.test.ts › suite breaks: AssertionError: expected 1 to be 2', 'src/b.test.ts: Failed to load url ./missing.js']);
    expect(vitestFailures(undefined)).toEqual([]);
  });

  it('Playwright: unexpected outcomes in nested suites, and top-level errors', () => {
    const report = {
      suites: [
        {
          title: 'workbench.spec.ts',
          specs: [{ title: 'fine', file: 'workbench.spec.ts', line: 3, tests: [{ status: 'expected', results: [] }] }],
          suites: [
            {
              title: 'Train',
              specs: [
                {
                  title: 'cancels',
                  file: 'workbench.spec.ts',
                  line: 40,
                  tests: [{ status: 'unexpected', results: [{ errors: [{ message: 'Timeout 5000ms exceeded.\nCall log:' }] }] }],
                },
              ],
            },
          ],
        },
      ],
      errors: [{ message: 'webServer exited early' }],
    };
    expect(playwrightFailures(report)).toEqual(['workbench.spec.ts:40 › Train › cancels: Timeout 5000ms exceeded.', 'playwright: webServer exited early']);
  });

  it('pytest JUnit XML: failures and errors, entities decoded; passing and skipped cases left out', () => {
    const xml =
      '<testsuites><testsuite tests="4">' +
      '<testcase classname="t.a" name="ok" time="1" />' +
      '<testcase classname="t.a" name="bad[x&amp;y]" time="1"><failure message="assert 1 == 2&#10;more">trace</failure></testcase>' +
      '<testcase classname="t.b" name="err" time="1"><error message="fixture &quot;db&quot; not found">trace</error></testcase>' +
      '<testcase classname="t.b" name="skip" time="0"><skipped message="no torch" /></testcase>' +
      '</testsuite></testsuites>';
    expect(junitFailures(xml)).toEqual(['t.a::bad[x&y]: assert 1 == 2', 't.b::err: fixture "db" not found']);
  });

  it('reasons are one line and bounded', () => {
    expect(firstLine('\n\n  first\nsecond')).toBe('first');
    expect(firstLine('x'.repeat(1000)).length).toBe(240);
    expect(firstLine(undefined)).toBe('');
  });
});
