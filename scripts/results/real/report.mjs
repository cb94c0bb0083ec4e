#!/usr/bin/env node
// The real-model tables of docs/results.md, computed from the committed raw JSON of scripts/results/real/run.sh
// (docs/results/real/raw/<model>-<task>-k<k>-<variant>.json: `prefixlab compare --out` files; a method's cells come
// from the setting's `main` file or, where the setting was run in pieces, from the file named after the method).
//
//   node scripts/results/real/report.mjs            print the Markdown block
//   node scripts/results/real/report.mjs --write    put it between the markers in docs/results.md
//   node scripts/results/real/report.mjs --check    exit 1 when docs/results.md's block is not what the raw files give
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
/** Table columns: [label, variant files that may hold it (first found wins), method in them]. */
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
    if (file?.rows?.some((r) => r.method === method)) return file;
  }
  return null;
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

function metricTable(raw, title, pick, zeroShotField, settings = SETTINGS) {
  const lines = [`| model | task | k | base, no training | ${COLUMNS.map((c) => c[0]).join(' | ')} |`, `| --- | --- | --- | ---: | ${COLUMNS.map(() => '---:').join(' | ')} |`];
  let any = false;
  for (const s of settings) {
    const cells = COLUMNS.map(([, variants, method]) =>
      cell(
        seedRuns(loadColumn(raw, s, variants, method), method)
          .map(pick)
          .filter((v) => typeof v === 'number'),
      ),
    );
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

function detailTables(raw) {
  const out = [];
  for (const s of SETTINGS) {
    const rows = [];
    for (const [label, variants, method] of COLUMNS) {
      const file = loadColumn(raw, s, variants, method);
      const row = file?.rows?.find((r) => r.method === method);
      if (!row) continue;
      const runs = seedRuns(file, method);
      const grid = (row.tuning?.grid ?? [])
        .map((g) => `${g.lr}: ${g.valAccuracy === null || g.valAccuracy === undefined ? '' : `${pct(g.valAccuracy)}% / `}${g.valLoss?.toFixed(3) ?? '—'}`)
        .join('; ');
      const peakRss = runs.length ? Math.max(...runs.map((r) => r.peakRssBytes ?? 0)) : 0;
      rows.push(
        `| ${label} | ${row.trainableParams.toLocaleString('en-US')} | ${row.lr} | ${grid || '—'} | ${row.tokensPerSecond.toFixed(0)} | ${(row.peakMemoryBytes / 2 ** 20).toFixed(0)} | ${(peakRss / 2 ** 30).toFixed(2)} | ${row.wallSeconds.toFixed(0)} | ${runs.length} |`,
      );
    }
    if (!rows.length) continue;
    const any = VARIANTS.map((v) => load(raw, s, v)).find(Boolean);
    out.push(
      `**${MODELS[s.model]} · ${TASKS[s.task]} · k = ${s.k}** (${any.steps} steps, seeds ${any.seeds.join(', ')}, ${any.tuning?.trainPoolSize ?? '?'} training examples in the pool, ${any.tuning?.valIds?.length ?? '?'} validation examples for tuning)`,
      '',
      '| method | trainable | chosen lr | grid (lr: val accuracy / val loss) | tok/s | peak tensors MiB | compare process peak RSS GiB | wall s / run | seeds done |',
      '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
    );
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
  const { values } = parseArgs({ options: { write: { type: 'boolean' }, check: { type: 'boolean' }, raw: { type: 'string' }, doc: { type: 'string' } } });
  const raw = resolve(values.raw ?? join(ROOT, 'docs/results/real/raw'));
  const docPath = resolve(values.doc ?? join(ROOT, 'docs/results.md'));
  if (!existsSync(raw)) throw new Error(`${raw}: no raw results folder`);
  void readdirSync(raw);
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
