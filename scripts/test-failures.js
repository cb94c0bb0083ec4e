// Names of the tests that failed, read from each runner's report, so the closing lines of `npm test` say which
// tests failed and why in one line each. CI shows only the tail of a long log; without this, a failure in an
// earlier pass (.ci/run's wasm-only units) was a bare count there.

const MAX_REASON = 240;

/** First non-empty line of an error message, ANSI colours stripped and cut to one readable line. */
export function firstLine(message) {
  // eslint-disable-next-line no-control-regex -- removing terminal colour codes is the point
  const plain = String(message ?? '').replace(/\u001b\[[0-9;]*m/g, '');
  const line =
    plain
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? '';
  return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
}

function entry(where, reason) {
  const why = firstLine(reason);
  return why ? `${where}: ${why}` : where;
}

/** Vitest's JSON report: failed assertions, and files that failed before any test ran (import errors). */
export function vitestFailures(report, root = '') {
  const out = [];
  for (const file of report?.testResults ?? []) {
    const name = root && String(file.name).startsWith(root) ? String(file.name).slice(root.length).replace(/^\/+/, '') : String(file.name);
    const failed = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failed) out.push(entry(`${name} › ${a.fullName ?? a.title}`, (a.failureMessages ?? [])[0]));
    if (failed.length === 0 && file.status === 'failed') out.push(entry(name, file.message));
  }
  return out;
}

/** Playwright's JSON report: tests whose outcome was unexpected, and errors outside any test. */
export function playwrightFailures(report) {
  const out = [];
  const walk = (suite, path) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status !== 'unexpected') continue;
        const last = (t.results ?? []).at(-1);
        out.push(entry(`${spec.file}:${spec.line} › ${[...path, spec.title].join(' › ')}`, last?.errors?.[0]?.message ?? last?.error?.message));
      }
    }
    for (const child of suite.suites ?? []) walk(child, [...path, child.title]);
  };
  for (const suite of report?.suites ?? []) walk(suite, []);
  for (const err of report?.errors ?? []) out.push(entry('playwright', err.message));
  return out;
}

const XML_ENTITIES = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'", '&amp;': '&' };
const unescapeXml = (s) =>
  s.replace(/&(?:(lt|gt|quot|apos|amp)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g, (m, named, dec, hex) => {
    if (named) return XML_ENTITIES[m];
    const cp = dec ? Number(dec) : parseInt(hex, 16);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });

/** pytest's JUnit XML: test cases holding a <failure> or <error>. */
export function junitFailures(xml) {
  const out = [];
  // Test cases are flat in pytest's output (no nesting), so a non-greedy match per case is exact.
  for (const m of String(xml).matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[2] ?? '';
    const fail = body.match(/<(failure|error)\b[^>]*?message="([^"]*)"/) ?? body.match(/<(failure|error)\b/);
    if (!fail) continue;
    const attr = (n) => unescapeXml((m[1].match(new RegExp(`\\s${n}="([^"]*)"`)) ?? [])[1] ?? '');
    out.push(entry(`${attr('classname')}::${attr('name')}`, fail[2] ? unescapeXml(fail[2]) : fail[1]));
  }
  return out;
}
