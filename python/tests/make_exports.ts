// Writes the exports the Python interop tests load: `npx tsx python/tests/make_exports.ts CASES.json OUT_DIR`.
// CASES.json lists {name, fixture, method, options, format}; each becomes a random-valued adapter on the
// fixture model (tests/fixtures/models/<fixture>) exported to OUT_DIR/<name> through the app's own
// exportAdapter (which writes parity.json). OUT_DIR/results.json records each case's result or error.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend } from '../../src/main/engine/backend';
import type { MethodName } from '../../src/main/engine/methods/method';
import { exportAdapter, type ExportFormat } from '../../src/main/export/export-adapter';
import { makeRandomAdapter } from '../../src/main/export/testing/random-adapter';

interface Case {
  name: string;
  fixture: string;
  method: MethodName;
  options: Record<string, unknown>;
  format: ExportFormat;
}

async function main(): Promise<void> {
  const [casesPath, outArg] = process.argv.slice(2);
  if (!casesPath || !outArg) throw new Error('usage: make_exports.ts CASES.json OUT_DIR');
  const cases = JSON.parse(readFileSync(casesPath, 'utf8')) as Case[];
  const out = resolve(outArg);
  const fixtures = resolve(import.meta.dirname, '../../tests/fixtures/models');
  mkdirSync(out, { recursive: true });
  await initBackend('cpu');
  const home = mkdtempSync(join(tmpdir(), 'prefixlab-interop-home-'));
  const results: Record<string, unknown>[] = [];
  try {
    for (const c of cases) {
      const started = Date.now();
      try {
        const adapter = await makeRandomAdapter(home, resolve(fixtures, c.fixture), c.method, c.options);
        const result = await exportAdapter({ home, id: adapter.id, format: c.format, outDir: join(out, c.name), force: true });
        results.push({ ...c, ok: true, result, ms: Date.now() - started });
      } catch (err) {
        results.push({ ...c, ok: false, error: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));
  const failed = results.filter((r) => !r.ok).length;
  console.error(`make_exports: ${results.length - failed} exported, ${failed} failed → ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
