// docs/results.md's real-model tables are what scripts/results/real/report.mjs prints from the committed raw JSON
// (the check fails when a raw value changes and the doc does not), and the experiment's scripts start: the task
// builder reproduces the committed task files byte for byte, the driver and helpers parse; every plot is linked.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    // Full fine-tuning runs on one worker at a time: while another holds it, the item is left for a later pass.
    const lock = join(home, 'full-ft.lock');
    const held = spawnSync('bash', ['-c', `exec 8>"${lock}"; flock -n 8 || exit 9; bash "$0"`, join(root, 'scripts/results/real/run.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PREFIXLAB: `${process.execPath} ${fake}`, HOME_DIR: home, RAW_DIR: rawDir, ITEMS: 'smollm2-agnews-k1-full smollm2-agnews-k1-prompt', FAILED: '0' },
    });
    expect(held.status, held.stderr).toBe(0);
    expect(held.stderr).toContain('== smollm2-agnews-k1-full: another worker is training full fine-tuning (two do not fit in memory); left for a later pass');
    expect(readdirSync(rawDir)).not.toContain('smollm2-agnews-k1-full.json');
    expect(readdirSync(rawDir)).toContain('smollm2-agnews-k1-prompt.json');
    expect(readdirSync(join(home, 'claims'))).not.toContain('smollm2-agnews-k1-full');
    const free = spawnSync('bash', [join(root, 'scripts/results/real/run.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PREFIXLAB: `${process.execPath} ${fake}`, HOME_DIR: home, RAW_DIR: rawDir, ITEMS: 'smollm2-agnews-k1-full', FAILED: '0' },
    });
    expect(free.status, free.stderr).toBe(0);
    expect(readdirSync(rawDir)).toContain('smollm2-agnews-k1-full.json');
  });

  it('a probe beyond a grid edge runs its seeds only where it wins the merged grid, and the report then takes the column from them', () => {
    // Stand-in CLI: --tune-only scores the probed rate at PROBE_LOSS; --lr-per-method runs the seeds at it.
    const fake = join(tmp, 'fake-probe.mjs');
    writeFileSync(
      fake,
      [
        "import { writeFileSync, appendFileSync } from 'node:fs';",
        'const a = process.argv.slice(2);',
        "if (a[0] === 'data') { console.log(JSON.stringify({ id: 'ds1' })); process.exit(0); }",
        "const out = a[a.indexOf('--out') + 1];",
        "appendFileSync(process.env.CALLS, a.flatMap((x, i) => (/^--(tune|lr)/.test(x) ? [x, ...(a[i + 1]?.startsWith('--') ? [] : [a[i + 1]])] : [])).join(' ') + '\\n');",
        'const stats = { trainableParams: 1, tokensPerSecond: 1, peakMemoryBytes: 1, wallSeconds: 1 };',
        "if (a.includes('--tune-only')) { const lr = Number(a[a.indexOf('--lr-grid') + 1].split('=')[1]);",
        "  writeFileSync(out, JSON.stringify({ rows: [{ method: 'lora', lr, failedRuns: 0, tuning: { chosenLr: lr, grid: [{ lr, valAccuracy: null, valLoss: Number(process.env.PROBE_LOSS), failedRuns: 0, runIds: [] }] } }], runs: [], tuning: { valIds: ['v1', 'v2'] } })); }",
        "else { const lr = Number(a[a.indexOf('--lr-per-method') + 1].split('=')[1]);",
        "  writeFileSync(out, JSON.stringify({ steps: 16, seeds: [1], rows: [{ method: 'lora', lr, failedRuns: 0, ...stats }], runs: [{ method: 'lora', seed: 1, status: 'finished', learningRate: lr, finalTest: { exactMatch: 0.9 } }] })); }",
      ].join('\n'),
    );
    const rawDir = join(tmp, 'probe-raw');
    mkdirSync(rawDir, { recursive: true });
    const grid = [1e-3, 3e-3, 1e-2].map((lr, i) => ({ lr, valAccuracy: null, valLoss: 0.5 - 0.1 * i, failedRuns: 0, runIds: [] }));
    writeFileSync(
      join(rawDir, 'smollm2-dbpedia-k1-lora.json'),
      JSON.stringify({
        steps: 16,
        seeds: [1],
        rows: [{ method: 'lora', lr: 1e-2, failedRuns: 0, trainableParams: 1, tokensPerSecond: 1, peakMemoryBytes: 1, wallSeconds: 1, tuning: { chosenLr: 1e-2, grid } }],
        runs: [{ method: 'lora', seed: 1, status: 'finished', finalTest: { exactMatch: 0.5 } }],
        tuning: { valIds: ['v2', 'v1'] },
      }),
    );
    const calls = join(tmp, 'probe-calls.txt');
    // The grid's best rate is its highest: a probe beyond it is due.
    expect(JSON.parse(report('--columns', '--raw', rawDir).stdout)).toContainEqual(expect.objectContaining({ setting: 'smollm2-dbpedia-k1', label: 'LoRA', atEdge: 'high' }));
    const drive = (item: string, loss: number) =>
      spawnSync('bash', [join(root, 'scripts/results/real/run.sh')], {
        encoding: 'utf8',
        env: { ...process.env, PREFIXLAB: `${process.execPath} ${fake}`, HOME_DIR: join(tmp, 'probe-home'), RAW_DIR: rawDir, ITEMS: item, PROBE_LOSS: String(loss), CALLS: calls },
      });
    const columnOf = () =>
      JSON.parse(report('--columns', '--raw', rawDir).stdout).find((c: { label: string; setting: string }) => c.setting === 'smollm2-dbpedia-k1' && c.label === 'LoRA');

    // Worse than the grid's best (0.3 at 1e-2): tuned alone, no seeds; the column keeps its runs.
    const losing = drive('smollm2-dbpedia-k1-lora@3e-2', 0.35);
    expect(losing.status, losing.stderr).toBe(0);
    expect(losing.stderr).toContain('rate 3e-2 does not win the merged grid; its seeds are not run');
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['--tune-only --tune-val 28 --lr-grid lora=3e-2']);
    expect(columnOf()).toMatchObject({ chosenLr: 1e-2, atEdge: null, pendingLr: null, file: 'smollm2-dbpedia-k1-lora.json', probes: ['smollm2-dbpedia-k1-lora@3e-2'] });

    // Better: the seeds run at it and the column's cells come from them.
    rmSync(join(rawDir, 'grid-extensions'), { recursive: true });
    rmSync(join(tmp, 'probe-home', 'claims'), { recursive: true });
    writeFileSync(calls, '');
    const winning = drive('smollm2-dbpedia-k1-lora@3e-2', 0.25);
    expect(winning.status, winning.stderr).toBe(0);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual(['--tune-only --tune-val 28 --lr-grid lora=3e-2', '--lr-per-method lora=3e-2']);
    expect(columnOf()).toMatchObject({ chosenLr: 3e-2, atEdge: 'high', pendingLr: null, file: 'grid-extensions/smollm2-dbpedia-k1-lora@3e-2-final.json' });
    const dbpedia = report('--raw', rawDir)
      .stdout.split('\n')
      .find((l) => l.startsWith('| SmolLM2-135M-Instruct | DBpedia-14 | 1 |'))!;
    expect(dbpedia.split('|').map((c) => c.trim())[10]).toBe('**90.0 ± 0.0 (1 seed)**');

    // A probe scored on another validation split is refused, not merged.
    const probe = join(rawDir, 'grid-extensions', 'smollm2-dbpedia-k1-lora@3e-2.json');
    writeFileSync(probe, readFileSync(probe, 'utf8').replace('"v1","v2"', '"v1","v3"'));
    const refused = report('--columns', '--raw', rawDir);
    expect(refused.status).toBe(2);
    expect(refused.stderr.trim()).toBe("report: smollm2-dbpedia-k1-lora@3e-2: its validation split is not its setting's");
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
    for (const py of ['collect.py', 'plots.py', 'report_columns.py']) {
      const compiled = spawnSync('python3', ['-c', `import ast,sys; ast.parse(open(sys.argv[1]).read())`, join(root, 'scripts/results/real', py)]);
      expect(compiled.status, py).toBe(0);
    }
  });

  it('every committed plot is shown in the doc, and every image the doc shows is committed', () => {
    const doc = readFileSync(join(root, 'docs/results.md'), 'utf8');
    const shown = new Set([...doc.matchAll(/!\[[^\]]*\]\((results\/[^)]+\.png)\)/g)].map((m) => m[1]));
    const committed = readdirSync(join(root, 'docs/results/real'))
      .filter((f) => f.endsWith('.png'))
      .map((f) => `results/real/${f}`);
    expect(committed.length).toBeGreaterThan(0);
    expect(committed.filter((f) => !shown.has(f))).toEqual([]);
    expect([...shown].filter((f) => !existsSync(join(root, 'docs', f)))).toEqual([]);
  });
});
