// `npm run fuzz -- hostile`: every hostile case, the 1 GB file for real (streamed to a temp file, deleted).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHostile } from './hostile';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-hostile-'));
try {
  const { results, failures } = await runHostile(tmp, { fullGigabyteFile: !process.argv.includes('--quick') });
  for (const r of results) process.stderr.write(`${r.name}: ${r.outcome} (${r.ms} ms, +${r.rssGrowthMiB} MiB)\n`);
  process.stdout.write(`${JSON.stringify({ target: 'hostile', cases: results.length, failures, results })}\n`);
  process.exitCode = failures.length ? 1 : 0;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
