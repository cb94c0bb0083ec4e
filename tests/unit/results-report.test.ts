// docs/results.md's real-model tables are what scripts/results/real/report.mjs prints from the committed raw JSON
// (the check fails when a raw value changes and the doc does not), and the experiment's scripts start: the task
// builder reproduces the committed task files byte for byte, the driver and helpers parse.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const script = join(root, 'scripts/results/real/report.mjs');
const raw = join(root, 'docs/results/real/raw');
const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-results-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const report = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });

describe('real-model results report', () => {
  it('the doc holds exactly the tables the report script prints from the raw files', () => {
    const check = report('--check');
    expect(check.status, check.stderr).toBe(0);
    const printed = report().stdout.trim();
    expect(readFileSync(join(root, 'docs/results.md'), 'utf8')).toContain(printed);
  });

  it('the check fails when a raw result changes and the doc does not', () => {
    const copy = join(tmp, 'raw');
    cpSync(raw, copy, { recursive: true });
    const files = readdirSync(copy).filter((f) => f.endsWith('.json'));
    if (files.length > 0) {
      const path = join(copy, files[0]);
      const compare = JSON.parse(readFileSync(path, 'utf8'));
      const run = compare.runs.find((r: { finalTest?: { exactMatch: number | null } }) => typeof r.finalTest?.exactMatch === 'number');
      run.finalTest.exactMatch = run.finalTest.exactMatch > 0.5 ? 0.01 : 0.99;
      writeFileSync(path, JSON.stringify(compare));
    } else {
      // No results yet: a first result appearing must change the doc too.
      writeFileSync(
        join(copy, 'smollm2-sst2-k1-main.json'),
        JSON.stringify({ runs: [{ method: 'lora', status: 'finished', finalTest: { exactMatch: 0.5, accuracy: 0.5 } }], rows: [] }),
      );
    }
    const check = report('--check', '--raw', copy);
    expect(check.status).toBe(1);
    expect(check.stderr).toMatch(/differ from what .* gives; run node scripts\/results\/real\/report\.mjs --write/);
  });

  it('a setting run in one-method pieces gives the same tables as its main file', () => {
    const main = 'smollm2-sst2-k1-main.json';
    const compare = JSON.parse(readFileSync(join(raw, main), 'utf8'));
    const methods: string[] = compare.rows.map((r: { method: string }) => r.method);
    expect(methods).toEqual(['ptplus', 'prefix', 'prompt', 'lora', 'full']);
    const pieces = join(tmp, 'pieces');
    cpSync(raw, pieces, { recursive: true });
    rmSync(join(pieces, main));
    for (const method of methods) {
      const piece = {
        ...compare,
        rows: compare.rows.filter((r: { method: string }) => r.method === method),
        runs: compare.runs.filter((r: { method: string }) => r.method === method),
      };
      writeFileSync(join(pieces, main.replace('-main', `-${method}`)), JSON.stringify(piece));
    }
    const whole = report();
    const split = report('--raw', pieces);
    expect(split.status, split.stderr).toBe(0);
    expect(split.stdout).toBe(whole.stdout);
    // …and a missing piece shows as "not run" in its column only.
    rmSync(join(pieces, main.replace('-main', '-lora')));
    const sst2 = report('--raw', pieces)
      .stdout.split('\n')
      .find((l) => l.startsWith('| SmolLM2-135M-Instruct | SST-2 | 1 |'))!;
    expect(sst2.split('|').map((c) => c.trim())[10]).toBe('not run');
    expect(sst2.match(/not run/g)).toHaveLength(1);
  });

  it('the driver keeps an item whose runs all finished and sets aside one with a failed run, releasing its claim', () => {
    // A stand-in CLI: `data import` prints an id; `compare` writes --out with the failed-run count FAILED says.
    const fake = join(tmp, 'fake-prefixlab.mjs');
    writeFileSync(
      fake,
      [
        "import { writeFileSync } from 'node:fs';",
        'const a = process.argv.slice(2);',
        "if (a[0] === 'data') { console.log(JSON.stringify({ id: 'ds1' })); process.exit(0); }",
        "const out = a[a.indexOf('--out') + 1];",
        "writeFileSync(out, JSON.stringify({ rows: [{ method: 'lora', failedRuns: Number(process.env.FAILED), tuning: { grid: [{ lr: 1e-3, failedRuns: 0 }] } }], runs: [] }));",
      ].join('\n'),
    );
    const rawDir = join(tmp, 'driver-raw');
    const home = join(tmp, 'driver-home');
    const drive = (failed: number) =>
      spawnSync('bash', [join(root, 'scripts/results/real/run.sh')], {
        encoding: 'utf8',
        env: { ...process.env, PREFIXLAB: `${process.execPath} ${fake}`, HOME_DIR: home, RAW_DIR: rawDir, ITEMS: 'smollm2-sst2-k1-lora', FAILED: String(failed) },
      });
    const bad = drive(2);
    expect(bad.status, bad.stderr).toBe(0);
    expect(bad.stderr).toContain('== smollm2-sst2-k1-lora: 2 runs failed; set aside in');
    expect(readdirSync(rawDir)).toEqual([]);
    expect(readdirSync(join(home, 'failed')).sort()).toEqual(['smollm2-sst2-k1-lora.json', 'smollm2-sst2-k1-lora.txt']);
    expect(readdirSync(join(home, 'claims'))).toEqual([]);
    // The next pass runs it again and keeps it.
    const good = drive(0);
    expect(good.status, good.stderr).toBe(0);
    expect(good.stderr).toMatch(/== smollm2-sst2-k1-lora done in \d+ s/);
    expect(readdirSync(rawDir).sort()).toEqual(['smollm2-sst2-k1-lora.json', 'smollm2-sst2-k1-lora.txt']);
    // A piece whose setting has a main file (every method at once) is not run again.
    writeFileSync(join(rawDir, 'smollm2-trec-k1-main.json'), '{}');
    const skipped = spawnSync('bash', [join(root, 'scripts/results/real/run.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PREFIXLAB: `${process.execPath} ${fake}`, HOME_DIR: home, RAW_DIR: rawDir, ITEMS: 'smollm2-trec-k1-prompt smollm2-trec-k1-gelu', FAILED: '0' },
    });
    expect(skipped.status, skipped.stderr).toBe(0);
    expect(skipped.stderr).not.toContain('smollm2-trec-k1-prompt');
    expect(readdirSync(rawDir)).toContain('smollm2-trec-k1-gelu.json');
    expect(readdirSync(rawDir)).not.toContain('smollm2-trec-k1-prompt.json');
  });

  it('the task builder reproduces the committed task files; the driver and collectors parse', () => {
    const tasks = join(root, 'docs/results/real/tasks');
    const before = new Map(readdirSync(tasks).map((f) => [f, readFileSync(join(tasks, f), 'utf8')]));
    execFileSync('python3', [join(root, 'scripts/results/real/build_tasks.py')], { encoding: 'utf8' });
    for (const [file, text] of before) expect(readFileSync(join(tasks, file), 'utf8'), file).toBe(text);
    expect(JSON.parse(before.get('tasks.json')!).goemotions.labels).toHaveLength(27);
    for (const sh of ['run.sh', 'zero_shot.sh', 'common.sh']) expect(spawnSync('bash', ['-n', join(root, 'scripts/results/real', sh)]).status, sh).toBe(0);
    // An item naming no known variant is refused before it claims anything or imports data.
    const bad = spawnSync('bash', [join(root, 'scripts/results/real/run.sh')], {
      encoding: 'utf8',
      env: { ...process.env, HOME_DIR: join(tmp, 'home'), ITEMS: 'smollm2-sst2-k1-bogus' },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('run.sh: smollm2-sst2-k1-bogus: unknown variant "bogus" (main, ptplus, prefix, prompt, lora, full, gelu, centred)');
    expect(readdirSync(join(tmp, 'home', 'claims'))).toEqual([]);
    for (const py of ['collect.py', 'plots.py']) {
      const compiled = spawnSync('python3', ['-c', `import ast,sys; ast.parse(open(sys.argv[1]).read())`, join(root, 'scripts/results/real', py)]);
      expect(compiled.status, py).toBe(0);
    }
  });
});
