// `npm run fuzz -- crash [--kills N] [--seed S]`: the kill -9 harness; one JSON report line on stdout.
import { runCrashHarness } from './harness';

const arg = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const report = await runCrashHarness({
  kills: Number(arg('--kills') ?? 100),
  seed: Number(arg('--seed') ?? 20250601),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${JSON.stringify({ target: 'crash', ...report })}\n`);
process.exit(report.failures.length === 0 && report.survived === report.attempted ? 0 : 1);
