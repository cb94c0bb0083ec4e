// `npm run security:electron`: Electronegativity (Doyensec's static checker for Electron misconfigurations)
// over what ships in the desktop app — src/main and src/preload (tests left out) plus the renderer's
// index.html (its CSP meta tag). Fails on any HIGH or CRITICAL finding, or on a file it could not parse.
// The online Electron-releases check is skipped (offline CI); Electron's version comes from package.json.
//   node scripts/security-electron.js [--input DIR] [--json FILE]
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const FAILING = new Set(['HIGH', 'CRITICAL']);

const electronVersion = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies.electron.replace(/^[^\d]*/, '');
let input = flag('--input');
let scratch;
if (!input) {
  scratch = mkdtempSync(join(tmpdir(), 'prefixlab-electronegativity-'));
  const notTest = (src) => !src.endsWith('.test.ts');
  cpSync(join(root, 'src/main'), join(scratch, 'main'), { recursive: true, filter: notTest });
  cpSync(join(root, 'src/preload'), join(scratch, 'preload'), { recursive: true, filter: notTest });
  mkdirSync(join(scratch, 'renderer'));
  cpSync(join(root, 'src/renderer/index.html'), join(scratch, 'renderer/index.html'));
  input = scratch;
}

// The package is CommonJS; its translations are loaded (with a 1 s online attempt) before any check runs.
const i18n = require('@doyensec/electronegativity/dist/locales/i18n.js');
const run = require('@doyensec/electronegativity');
const quiet = console.log;
console.log = () => undefined; // it prints "could not retrieve translations" when offline
let result;
try {
  await i18n();
  result = await run({ input, isRelative: true, electronVersionOverride: electronVersion, excludeFromScan: ['AvailableSecurityFixesGlobalCheck'] }, false);
} finally {
  console.log = quiet;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}

const findings = result.issues.map((i) => ({
  id: i.id,
  severity: i.severity.name ?? String(i.severity),
  confidence: i.confidence.name ?? String(i.confidence),
  file: i.file,
  line: i.location?.line ?? 0,
  manualReview: Boolean(i.manualReview),
  description: i.description,
}));
const parseErrors = result.errors.filter((e) => !e.tolerable).map((e) => `${e.file}: ${e.message}`);
const failing = findings.filter((f) => FAILING.has(f.severity));
for (const f of findings) console.log(`${FAILING.has(f.severity) ? 'FAIL' : 'note'} ${f.severity.padEnd(13)} ${f.id.padEnd(28)} ${f.file}:${f.line}  ${f.description}`);
for (const e of parseErrors) console.log(`FAIL could not parse ${e}`);
const report = { electronVersion, checks: result.globalChecks + result.atomicChecks, findings, parseErrors, high: failing.length };
console.log(`electronegativity: ${report.checks} checks, ${findings.length} findings (${failing.length} high/critical), ${parseErrors.length} parse errors`);
const out = flag('--json');
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
}
process.exit(failing.length || parseErrors.length ? 1 : 0);
