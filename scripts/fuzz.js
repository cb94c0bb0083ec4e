// `npm run fuzz -- [target…] [--cases N] [--seed S] [--path P] [--kills N] [--json FILE] [--list]`
// Parser and API fuzzing (fast-check, ≥ 10,000 cases per target by default), the hostile inputs and the
// kill -9 harness. Each target runs in its own process (heap capped) under a watchdog: a case stuck in a
// synchronous loop stops the progress lines, and after STALL_MS the process is killed and the hang reported
// with the input it was on. No target means all of them, then `hostile`, then `crash` (100 kills).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const root = new URL('..', import.meta.url).pathname;
const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');
const STALL_MS = 180_000;
const HEAP_MB = 3072;

const PARSER_TARGETS = [
  'jsonl',
  'json',
  'csv',
  'tsv',
  'text',
  'trec',
  'dataset-file',
  'safetensors',
  'config-json',
  'tokenizer',
  'llama2c',
  'llama2c-tokenizer',
  'registry',
  'api-args',
  'ws-messages',
];
const SPECIAL = ['hostile', 'crash'];

function parseArgs(argv) {
  const opts = { targets: [], cases: 10_000, seed: 20250601, kills: 100, path: undefined, json: join(root, 'test-results/fuzz-report.json'), list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--cases') opts.cases = Number(value());
    else if (a === '--seed') opts.seed = Number(value());
    else if (a === '--kills') opts.kills = Number(value());
    else if (a === '--path') opts.path = value();
    else if (a === '--json') opts.json = value();
    else if (a === '--list') opts.list = true;
    else if (a.startsWith('--')) fail(`unknown option ${a} (options: --cases N --seed S --path P --kills N --json FILE --list)`);
    else opts.targets.push(a);
  }
  for (const [name, n] of [
    ['--cases', opts.cases],
    ['--seed', opts.seed],
    ['--kills', opts.kills],
  ]) {
    if (!Number.isInteger(n) || n < 0) fail(`${name} must be a whole number, got ${n}`);
  }
  for (const t of opts.targets) if (!PARSER_TARGETS.includes(t) && !SPECIAL.includes(t)) fail(`unknown target ${t} (targets: ${[...PARSER_TARGETS, ...SPECIAL].join(', ')})`);
  if (opts.targets.length === 0) opts.targets = [...PARSER_TARGETS, ...SPECIAL];
  return opts;
}

function fail(message) {
  console.error(`fuzz: ${message}`);
  process.exit(2);
}

/** Runs one child under the stall watchdog; resolves with its JSON report line (or a synthesised failure). */
function runChild(label, args, traceFile) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--expose-gc', tsx, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let report = null;
    let lastLine = '';
    let stalled = false;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        child.kill('SIGKILL');
      }, STALL_MS);
    };
    arm();
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        report = JSON.parse(line);
      } catch {
        // not ours (a library printing to stdout)
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (/^(progress|kill) /.test(line) || line.includes(': ')) arm();
      if (/^kill /.test(line)) process.stdout.write(`  ${line}\n`);
      if (!/^progress /.test(line) && line.trim() && !/^(={5,}|Hi, looks like|Unknown pattern type)/.test(line)) lastLine = line;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report) return resolve(report);
      const trace = traceFile && existsSync(traceFile) ? readFileSync(traceFile, 'utf8').slice(0, 2000) : '';
      const why = stalled ? `no progress for ${STALL_MS / 1000} s: a case hangs` : signal ? `killed by ${signal} (out of memory?)` : `exited with code ${code}`;
      resolve({
        target: label,
        cases: 0,
        crashes: stalled ? 0 : 1,
        hangs: stalled ? 1 : 0,
        failure: { kind: stalled ? 'hang' : 'crash', message: `${why}${lastLine ? `; last output: ${lastLine}` : ''}`, counterexample: trace },
      });
    });
  });
}

function summarise(report) {
  if (report.target === 'crash') {
    const ok = report.failures?.length === 0 && report.survived === report.attempted;
    return `${ok ? 'ok  ' : 'FAIL'} crash        ${report.survived}/${report.attempted} kills survived (loading ${report.byMoment?.loading}, training ${report.byMoment?.training}, checkpoint ${report.byMoment?.checkpoint}, export ${report.byMoment?.export}; ${report.landedInCheckpointWrite} inside a checkpoint write, ${report.landedInAdapterOrExportWrite} inside an adapter/export write), ${report.resumes} resumes, max ${report.maxLostSteps} steps lost, ${report.runsCompleted} runs completed, ${report.wallSeconds} s`;
  }
  if (report.target === 'hostile')
    return `${report.failures?.length === 0 ? 'ok  ' : 'FAIL'} hostile      ${report.cases - (report.failures?.length ?? 0)}/${report.cases} hostile inputs refused cleanly`;
  const failed = report.crashes + report.hangs > 0;
  const rejected = Object.entries(report.rejected ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${failed ? 'FAIL' : 'ok  '} ${report.target.padEnd(17)} ${String(report.cases).padStart(6)} cases: ${report.accepted} accepted, rejected {${rejected}}, ${report.crashes} crashes, ${report.hangs} hangs, slowest ${report.slowestCaseMs} ms, ${report.wallSeconds} s, peak ${report.peakRssMiB} MiB`;
}

const opts = parseArgs(process.argv.slice(2));
if (opts.list) {
  console.log([...PARSER_TARGETS, ...SPECIAL].join('\n'));
  process.exit(0);
}
const scratch = mkdtempSync(join(tmpdir(), 'prefixlab-fuzz-run-'));
const reports = [];
const started = Date.now();
try {
  for (const target of opts.targets) {
    process.stdout.write(`=== ${target}\n`);
    let report;
    if (target === 'crash') report = await runChild('crash', [join(root, 'tests/fuzz/crash/cli.ts'), '--kills', String(opts.kills), '--seed', String(opts.seed)]);
    else if (target === 'hostile') report = await runChild('hostile', [join(root, 'tests/fuzz/hostile-cli.ts')]);
    else {
      const trace = join(scratch, `${target}.trace`);
      const args = [join(root, 'tests/fuzz/cli.ts'), target, '--cases', String(opts.cases), '--seed', String(opts.seed), '--trace', trace];
      if (opts.path) args.push('--path', opts.path);
      report = await runChild(target, args, trace);
    }
    reports.push(report);
    process.stdout.write(`${summarise(report)}\n`);
    if (report.failure)
      process.stdout.write(
        `     ${report.failure.message}\n     input: ${String(report.failure.counterexample).slice(0, 600)}\n${report.failure.replay ? `     replay: ${report.failure.replay}\n` : ''}`,
      );
    for (const f of report.failures ?? []) process.stdout.write(`     ${f}\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const failed = reports.filter((r) => r.failure || (r.failures?.length ?? 0) > 0 || (r.target === 'crash' && r.survived !== r.attempted));
const summary = {
  startedAt: new Date(started).toISOString(),
  wallSeconds: Math.round((Date.now() - started) / 1000),
  seed: opts.seed,
  casesPerTarget: opts.cases,
  kills: opts.kills,
  node: process.version,
  failed: failed.map((r) => r.target),
  reports,
};
mkdirSync(dirname(opts.json), { recursive: true });
writeFileSync(opts.json, `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`\n${reports.length - failed.length}/${reports.length} targets passed in ${summary.wallSeconds} s; report: ${opts.json}\n`);
process.exit(failed.length ? 1 : 0);
