#!/usr/bin/env node
// The real-model tables of docs/results.md, computed from the committed raw JSON of scripts/results/real/run.sh
// (docs/results/real/raw/<model>-<task>-k<k>-<variant>.json: `prefixlab compare --out` files; a method's cells come
// from the setting's `main` file or, where the setting was run in pieces, from the file named after the method).
// A grid whose best rate sat at its edge is extended by probes (run.sh items `<piece>@<lr>`):
// raw/grid-extensions/<setting>-<piece>@<lr>.json (`compare --tune-only`: that rate scored on the same validation
// split) and, where it wins the merged grid, <…>@<lr>-final.json (the seeds at it). A column's rate is chosen over
// the merged grid by the app's rule (src/main/engine/train/tune-lr.ts pickLearningRate).
//
//   node scripts/results/real/report.mjs            print the Markdown block
//   node scripts/results/real/report.mjs --write    put it between the markers in docs/results.md
//   node scripts/results/real/report.mjs --check    exit 1 when docs/results.md's block is not what the raw files give
//   node scripts/results/real/report.mjs --columns  JSON: each column's chosen rate (atEdge: low|high when it is the merged
//                                                   grid's end, so a probe beyond it is due) and the file of its seeds
//   (--raw DIR, --doc FILE: other places, for tests)
//
// Cells are mean ± sample std over the seeds that finished; "not run" where the queue has not reached the item.
import { existsSync, readdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BEGIN = '<!-- real-results:begin (scripts/results/real/report.mjs --write) -->';
const END = '<!-- real-results:end -->';

const MODELS = { smollm2: 'SmolLM2-135M-Instruct', gemma3: 'Gemma-3-270M' };
const TASKS = { sst2: 'SST-2', trec: 'TREC', agnews: 'AG News', dbpedia: 'DBpedia-14', goemotions: 'GoEmotions' };
/** Table columns: [label, variant files that may hold it (first found wins; the last is its piece), method in them]. */
const COLUMNS = [
  ['PT+ elu', ['main', 'ptplus'], 'ptplus'],
  ['PT+ gelu', ['gelu'], 'ptplus'],
  ['PT+ centred', ['centred'], 'ptplus'],
  ['Prefix-Tuning', ['main', 'prefix'], 'prefix'],
  ['Prompt Tuning', ['main', 'prompt'], 'prompt'],
  ['LoRA', ['main', 'lora'], 'lora'],
  ['Full FT', ['main', 'full'], 'full'],
];
const VARIANTS = ['main', 'ptplus', 'prefix', 'prompt', 'lora', 'full', 'gelu', 'centred'];
/** The planned grid (scripts/results/real/run.sh's queue), in table order. */
const SETTINGS = [
  ...['sst2', 'trec', 'agnews', 'dbpedia', 'goemotions'].flatMap((task) => [1, 8].map((k) => ({ model: 'smollm2', task, k }))),
  ...['goemotions', 'dbpedia'].map((task) => ({ model: 'gemma3', task, k: 1 })),
];

/** Tasks whose runs score label likelihood (run.sh: scoreLabels where a task has ≤ 6 labels). */
const LIKELIHOOD_TASKS = new Set(['sst2', 'trec', 'agnews']);

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pct = (x) => (100 * x).toFixed(1);

function load(raw, { model, task, k }, variant) {
  const path = join(raw, `${model}-${task}-k${k}-${variant}.json`);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

/** The file holding one column's method for a setting: the first of its variants that has a row for it. */
function loadColumn(raw, setting, variants, method) {
  for (const variant of variants) {
    const file = load(raw, setting, variant);
    if (file?.rows?.some((r) => r.method === method)) return { file, variant };
  }
  return null;
}

/** pickLearningRate's rule: best validation accuracy; ties → lower validation loss, then the lower rate. */
function pickLr(points) {
  const TIE = 1e-9;
  let best = null;
  for (const p of [...points].sort((a, b) => a.lr - b.lr)) {
    if (p.valAccuracy == null && p.valLoss == null) continue;
    if (best === null) {
      best = p;
      continue;
    }
    const [accA, accB] = [p.valAccuracy ?? -Infinity, best.valAccuracy ?? -Infinity];
    if (Math.abs(accA - accB) > TIE ? accA > accB : (p.valLoss ?? Infinity) < (best.valLoss ?? Infinity) - TIE) best = p;
  }
  return best?.lr ?? null;
}

const sameIds = (a, b) => JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());

/**
 * One column of a setting with its grid extensions merged: {file, fileName, row, grid, chosenLr, pendingLr, probes}.
 * `file` holds the seed runs at chosenLr (the base file, or a probe's final file; fileName relative to the raw
 * folder); pendingLr is set (and file null) when a probe won but its seeds have not run.
 */
function resolveColumn(raw, setting, variants, method) {
  const found = loadColumn(raw, setting, variants, method);
  if (!found) return null;
  const base = found.file;
  const baseName = `${setting.model}-${setting.task}-k${setting.k}-${found.variant}.json`;
  const row = base.rows.find((r) => r.method === method);
  const piece = variants[variants.length - 1];
  const dir = join(raw, 'grid-extensions');
  const prefix = `${setting.model}-${setting.task}-k${setting.k}-${piece}@`;
  const probes = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.startsWith(prefix) && f.endsWith('.json') && !f.endsWith('-final.json'))
        .sort()
        .map((f) => ({ name: f.slice(0, -5), file: JSON.parse(readFileSync(join(dir, f), 'utf8')) }))
    : [];
  const grid = [...(row.tuning?.grid ?? [])];
  for (const probe of probes) {
    // A probe scores on the setting's own validation split, or it is not comparable with the grid's points.
    if (!sameIds(probe.file.tuning?.valIds, base.tuning?.valIds)) throw new Error(`${probe.name}: its validation split is not its setting's`);
    for (const point of probe.file.rows.find((r) => r.method === method)?.tuning?.grid ?? []) grid.push({ ...point, probe: probe.name });
  }
  grid.sort((a, b) => a.lr - b.lr);
  const chosenLr = probes.length ? pickLr(grid) : row.lr;
  const winner = grid.find((p) => p.lr === chosenLr && p.probe);
  if (!winner) return { file: base, fileName: baseName, row, grid, chosenLr, pendingLr: null, probes: probes.map((p) => p.name) };
  const finalPath = join(dir, `${winner.probe}-final.json`);
  const final = existsSync(finalPath) ? JSON.parse(readFileSync(finalPath, 'utf8')) : null;
  const finalRow = final?.rows?.find((r) => r.method === method) ?? null;
  return {
    file: finalRow ? final : null,
    fileName: finalRow ? `grid-extensions/${winner.probe}-final.json` : null,
    row: finalRow ?? row,
    grid,
    chosenLr,
    pendingLr: finalRow ? null : chosenLr,
    probes: probes.map((p) => p.name),
    finalItem: winner.probe,
  };
}

/** The finished seed runs of one method in one file. */
function seedRuns(file, method) {
  return (file?.runs ?? []).filter((r) => r.method === method && r.status === 'finished' && r.finalTest);
}

function cell(values) {
  if (values.length === 0) return null;
  return { mean: mean(values), std: std(values), n: values.length };
}

/** The base model's own score on the task's test sample (scripts/results/real/zero_shot.sh), or null. */
function zeroShot(raw, { model, task }, field) {
  const path = join(raw, 'zero-shot', `${model}-${task}.json`);
  if (!existsSync(path)) return null;
  const value = JSON.parse(readFileSync(path, 'utf8'))[field];
  return typeof value === 'number' ? value : null;
}

/** One column's cell for a setting: `pick` over its finished seed runs (null when not run). */
function columnCell(raw, s, [, variants, method], pick) {
  return cell(
    seedRuns(resolveColumn(raw, s, variants, method)?.file, method)
      .map(pick)
      .filter((v) => typeof v === 'number'),
  );
}

function metricTable(raw, title, pick, zeroShotField, settings = SETTINGS) {
  const lines = [`| model | task | k | base, no training | ${COLUMNS.map((c) => c[0]).join(' | ')} |`, `| --- | --- | --- | ---: | ${COLUMNS.map(() => '---:').join(' | ')} |`];
  let any = false;
  for (const s of settings) {
    const cells = COLUMNS.map((column) => columnCell(raw, s, column, pick));
    const base = zeroShot(raw, s, zeroShotField);
    const baseText = base === null ? 'not run' : pct(base);
    if (cells.every((c) => c === null)) {
      lines.push(`| ${MODELS[s.model]} | ${TASKS[s.task]} | ${s.k} | ${baseText} | ${COLUMNS.map(() => 'not run').join(' | ')} |`);
      continue;
    }
    any = true;
    const best = Math.max(...cells.filter(Boolean).map((c) => c.mean));
    const text = cells.map((c) => {
      if (!c) return 'not run';
      const v = `${pct(c.mean)} ± ${pct(c.std)}${c.n < 3 ? ` (${c.n} seed${c.n > 1 ? 's' : ''})` : ''}`;
      return c.mean === best ? `**${v}**` : v;
    });
    lines.push(`| ${MODELS[s.model]} | ${TASKS[s.task]} | ${s.k} | ${baseText} | ${text.join(' | ')} |`);
  }
  return any ? [`**${title}**`, '', ...lines] : [`**${title}**: no results yet.`];
}

/** One column's generative-accuracy cell for a setting (null when not run). */
const exactCell = (raw, s, label) =>
  columnCell(
    raw,
    s,
    COLUMNS.find((c) => c[0] === label),
    (r) => r.finalTest.exactMatch,
  );

/**
 * PT+ (elu) against each baseline, per setting: the difference of mean generative accuracy in points and Welch's t
 * (difference over sqrt(s1²/n1 + s2²/n2)); and the mean difference over the settings of a model and k where both
 * ran. What the prose's comparison with the paper rests on.
 */
function differenceTable(raw) {
  const baselines = ['LoRA', 'Prefix-Tuning', 'Prompt Tuning', 'Full FT', 'PT+ gelu', 'PT+ centred'];
  const lines = [`| model | task | k | ${baselines.map((b) => `PT+ elu − ${b}`).join(' | ')} |`, `| --- | --- | --- | ${baselines.map(() => '---:').join(' | ')} |`];
  const sums = new Map();
  // Signed, one decimal; pct scales by 100 (t values come in pre-divided).
  const fmt = (d) => `${d >= -0.0005 ? '+' : '−'}${pct(Math.abs(d))}`;
  for (const s of SETTINGS) {
    const pt = exactCell(raw, s, 'PT+ elu');
    if (!pt) continue;
    const group = `${s.model}|${s.k}`;
    const cells = baselines.map((b) => {
      const other = exactCell(raw, s, b);
      if (!other) return 'not run';
      const d = pt.mean - other.mean;
      const se = Math.sqrt(pt.std ** 2 / pt.n + other.std ** 2 / other.n);
      const entry = sums.get(`${group}|${b}`) ?? [];
      sums.set(`${group}|${b}`, [...entry, d]);
      return `${fmt(d)} (t ${se > 0 ? fmt(d / se / 100) : '—'})`;
    });
    lines.push(`| ${MODELS[s.model]} | ${TASKS[s.task]} | ${s.k} | ${cells.join(' | ')} |`);
  }
  if (lines.length === 2) return [];
  for (const group of new Set([...sums.keys()].map((k) => k.split('|').slice(0, 2).join('|')))) {
    const [model, k] = group.split('|');
    const cells = baselines.map((b) => {
      const ds = sums.get(`${group}|${b}`) ?? [];
      return ds.length ? `${fmt(mean(ds))} over ${ds.length}` : '—';
    });
    lines.push(`| ${MODELS[model]} | mean over tasks | ${k} | ${cells.join(' | ')} |`);
  }
  return [
    '**PT+ (elu) minus each other method**: difference of mean generative accuracy, points (Welch t; |t| ≳ 2.8 is a 5 % two-sided level at ~4 degrees of freedom)',
    '',
    ...lines,
    '',
  ];
}

function detailTables(raw) {
  const out = [];
  for (const s of SETTINGS) {
    const rows = [];
    for (const [label, variants, method] of COLUMNS) {
      const column = resolveColumn(raw, s, variants, method);
      if (!column) continue;
      const { row, file } = column;
      const runs = seedRuns(file, method);
      // Probed rates (grid extensions) are marked +.
      const grid = column.grid
        .map((g) => `${g.probe ? '+' : ''}${g.lr}: ${g.valAccuracy === null || g.valAccuracy === undefined ? '' : `${pct(g.valAccuracy)}% / `}${g.valLoss?.toFixed(3) ?? '—'}`)
        .join('; ');
      const peakRss = runs.length ? Math.max(...runs.map((r) => r.peakRssBytes ?? 0)) : 0;
      const chosen = column.pendingLr === null ? `${column.chosenLr}` : `${column.pendingLr} (seeds not run yet)`;
      rows.push(
        `| ${label} | ${row.trainableParams.toLocaleString('en-US')} | ${chosen} | ${grid || '—'} | ${row.tokensPerSecond.toFixed(0)} | ${(row.peakMemoryBytes / 2 ** 20).toFixed(0)} | ${(peakRss / 2 ** 30).toFixed(2)} | ${row.wallSeconds.toFixed(0)} | ${runs.length} |`,
      );
    }
    if (!rows.length) continue;
    const any = VARIANTS.map((v) => load(raw, s, v)).find(Boolean);
    out.push(
      `**${MODELS[s.model]} · ${TASKS[s.task]} · k = ${s.k}** (${any.steps} steps, seeds ${any.seeds.join(', ')}, ${any.tuning?.trainPoolSize ?? '?'} training examples in the pool, ${any.tuning?.valIds?.length ?? '?'} validation examples for tuning)`,
      '',
      '| method | trainable | chosen lr | grid (lr: val accuracy / val loss; + probed beyond the first grid) | tok/s | peak tensors MiB | compare process peak RSS GiB | wall s / run | seeds done |',
      '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
    );
  }
  return out;
}

/** Every column's resolution (`--columns`): what run.sh and the Python collectors read. */
export function columns(raw) {
  const out = [];
  for (const s of SETTINGS) {
    for (const [label, variants, method] of COLUMNS) {
      const c = resolveColumn(raw, s, variants, method);
      if (!c) continue;
      const setting = `${s.model}-${s.task}-k${s.k}`;
      // A chosen rate at the merged grid's lowest or highest point calls for a probe beyond it.
      const lrs = c.grid.map((g) => g.lr);
      const atEdge = lrs.length < 2 ? null : c.chosenLr === lrs[0] ? 'low' : c.chosenLr === lrs[lrs.length - 1] ? 'high' : null;
      out.push({
        setting,
        label,
        piece: variants[variants.length - 1],
        method,
        chosenLr: c.chosenLr,
        atEdge,
        pendingLr: c.pendingLr,
        pendingItem: c.pendingLr === null ? null : c.finalItem,
        file: c.fileName,
        probes: c.probes,
      });
    }
  }
  return out;
}

export function renderReport(raw) {
  return [
    BEGIN,
    '',
    ...metricTable(
      raw,
      'Generative accuracy (greedy answer = gold label after normalisation), % on the test sample, mean ± std over seeds (best trained method in bold)',
      (r) => r.finalTest.exactMatch,
      'exactMatch',
    ),
    '',
    ...metricTable(
      raw,
      'Label-likelihood accuracy (tasks with ≤ 6 labels), %',
      (r) => r.finalTest.accuracy,
      'accuracy',
      SETTINGS.filter((s) => LIKELIHOOD_TASKS.has(s.task)),
    ),
    '',
    ...differenceTable(raw),
    ...detailTables(raw),
    END,
  ].join('\n');
}

function replaceBlock(doc, block) {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the doc has no ${BEGIN} … ${END} block`);
  return doc.slice(0, start) + block + doc.slice(end + END.length);
}

function main() {
  const { values } = parseArgs({
    options: { write: { type: 'boolean' }, check: { type: 'boolean' }, columns: { type: 'boolean' }, raw: { type: 'string' }, doc: { type: 'string' } },
  });
  const raw = resolve(values.raw ?? join(ROOT, 'docs/results/real/raw'));
  const docPath = resolve(values.doc ?? join(ROOT, 'docs/results.md'));
  if (!existsSync(raw)) throw new Error(`${raw}: no raw results folder`);
  if (values.columns) return void process.stdout.write(JSON.stringify(columns(raw), null, 1) + '\n');
  const block = renderReport(raw);
  if (!values.write && !values.check) return void process.stdout.write(block + '\n');
  const doc = readFileSync(docPath, 'utf8');
  const updated = replaceBlock(doc, block);
  if (values.check) {
    if (updated !== doc) {
      console.error(`${docPath}: its real-model tables differ from what ${raw} gives; run node scripts/results/real/report.mjs --write`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(docPath + '.tmp', updated);
  renameSync(docPath + '.tmp', docPath);
}

try {
  main();
} catch (err) {
  console.error(`report: ${err.message}`);
  process.exit(2);
}
