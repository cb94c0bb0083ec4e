// The in-process side of `npm run fuzz`: runs the named targets (or all) and prints one JSON report line per
// target on stdout, progress on stderr. scripts/fuzz.js starts one of these per target under a watchdog.
import { runTarget } from './lib/run-target';
import { TARGETS, targetByName } from './targets';

function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const names = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
const cases = Number(arg('--cases') ?? 10_000);
const seed = Number(arg('--seed') ?? 20250601);
const path = arg('--path');
const targets = names.length ? names.map((n) => targetByName(n) ?? fail(`unknown target ${n} (targets: ${TARGETS.map((t) => t.name).join(', ')})`)) : TARGETS;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

let failed = false;
for (const target of targets) {
  const report = await runTarget(target, {
    cases,
    seed,
    path,
    dumpTo: arg('--dump'),
    traceTo: arg('--trace'),
    onProgress: (done) => process.stderr.write(`progress ${target.name} ${done}\n`),
  });
  if (report.failure) failed = true;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
process.exit(failed ? 1 : 0);
