// Writes the exports the Python interop tests load: `npx tsx python/tests/make_exports.ts CASES.json OUT_DIR`.
// CASES.json lists {name, fixture, method, options, format}; each becomes a random-valued adapter on the
// fixture model (tests/fixtures/models/<fixture>) exported to OUT_DIR/<name> through the app's own
// exportAdapter (which writes parity.json). A case with `train` instead trains its adapter on `fixture` (a path,
// e.g. a GGUF file) through `prefixlab train` with those rows and flags, on `backend` (default cpu).
// OUT_DIR/results.json records each case's result or error.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cli } from '../../src/main/cli/cli-harness';
import { initBackend, type BackendName } from '../../src/main/engine/backend';
import type { MethodName } from '../../src/main/engine/methods/method';
import { exportAdapter, type ExportFormat } from '../../src/main/export/export-adapter';
import { makeRandomAdapter } from '../../src/main/export/testing/random-adapter';

interface Case {
  name: string;
  fixture: string;
  method: MethodName;
  options: Record<string, unknown>;
  format: ExportFormat;
  backend?: BackendName;
  /** Train the adapter (method and options as above) on these rows with these extra `prefixlab train` flags. */
  train?: { rows: Record<string, unknown>[]; args: string[] };
}

/** `prefixlab train --json` on the case's model and rows; the id of the adapter the finished run became. */
async function trainAdapter(home: string, model: string, c: Case): Promise<string> {
  const data = join(home, `${c.name}.jsonl`);
  writeFileSync(data, c.train!.rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  const options = Object.entries(c.options).flatMap(([key, value]) => ['--set', `${key}=${String(value)}`]);
  const args = ['train', '--model', model, '--data', data, '--method', c.method, ...options, ...c.train!.args];
  const { code, stdout, stderr } = await cli([...args, '--home', home, '--backend', c.backend ?? 'cpu', '--json']);
  if (code !== 0) throw new Error(`prefixlab train failed (${code}): ${stderr.trim().split('\n').pop()}`);
  const result = JSON.parse(stdout) as { status: string; adapterId?: string };
  if (result.status !== 'finished' || !result.adapterId) throw new Error(`prefixlab train ended ${result.status} without an adapter`);
  return result.adapterId;
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
        await initBackend(c.backend ?? 'cpu');
        const model = resolve(fixtures, c.fixture);
        const id = c.train ? await trainAdapter(home, model, c) : (await makeRandomAdapter(home, model, c.method, c.options)).id;
        const result = await exportAdapter({ home, id, format: c.format, outDir: join(out, c.name), force: true });
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
