#!/usr/bin/env node
// Builds the labelled classification tasks of docs/results.md as JSONL ({text, label}), deterministically
// (seeded shuffle, no dependencies). The label IS the verbaliser: PrefixLab reads a labelled file as a
// classification task with its default template, prompt "{text}\nLabel:" and target " {label}", and scores
// each label's verbalisation by log-likelihood. Rules (labels in the model's vocabulary):
//   tinystories-gender  girl | boy   a paragraph that uses she/her and none of he/him/his is "girl", the reverse
//                                    "boy" (paragraphs using both or neither are left out)
//   tinystories-name    Lily | Tim   a paragraph that names Lily and neither Tim nor Timmy is "Lily", the reverse
//                                    "Tim" (Timmy counts as Tim)
//   tinystories-mood    happy | sad  a paragraph with a happy word (happy, glad, smiled, smile, smiling, laughed,
//                                    joy) and no sad word (sad, cried, cry, crying, upset, scared, angry) is
//                                    "happy", the reverse "sad"
//   sst2                good | bad   GLUE SST-2 (dev_from_glue_train.tsv), label 1 → good, 0 → bad
//   trec                5 classes    TREC coarse question type (TREC.train, Latin-1) in plain words: DESC meaning,
//                                    ENTY thing, HUM person, LOC place, NUM number. ABBR (86 questions) is left
//                                    out: too few for k = 64 plus the held-out test and validation splits
// TinyStories units are the paragraphs of tinystories_val.txt (blank-line separated, whitespace collapsed) of
// 12–50 words (≈ 40–170 tokens for the stories model's 512-token vocabulary: short enough that no example is
// truncated at maxLength 192, and cheap to train on).
// Every class is capped at --per-class examples (default 300; TREC's ABBR has 86) and the file is shuffled,
// so a balanced eval split is drawn from it.
//
// Usage: node scripts/results/build_tasks.mjs [--shared DIR] [--out DIR] [--per-class N] [--seed S]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []));
const shared = resolve(args.shared ?? process.env.PREFIXLAB_SHARED ?? join(here, '../../../shared'));
const outDir = resolve(args.out ?? join(here, '../../docs/results/tasks'));
const perClass = Number(args['per-class'] ?? 300);
const seed = Number(args.seed ?? 20250613);

/** mulberry32: a small seeded generator, so the files are the same on every machine. */
function rng(s) {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle(items, random) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
const hasWord = (text, words) => words.some((w) => new RegExp(`\\b${w}\\b`).test(text));

/** {text, label}[] → balanced, capped, shuffled JSONL rows {text, label}. */
function writeTask(name, items) {
  const random = rng(seed);
  const byLabel = new Map();
  for (const item of items) byLabel.set(item.label, [...(byLabel.get(item.label) ?? []), item]);
  const kept = [];
  const counts = {};
  for (const [label, group] of [...byLabel].sort(([a], [b]) => a.localeCompare(b))) {
    const chosen = shuffle(group, random).slice(0, perClass);
    counts[label] = `${chosen.length} of ${group.length}`;
    kept.push(...chosen);
  }
  const rows = shuffle(kept, random).map((item) => ({ text: item.text, label: item.label }));
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${name}.jsonl`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  console.log(
    `${file}: ${rows.length} rows (${Object.entries(counts)
      .map(([l, c]) => `${l} ${c}`)
      .join(', ')})`,
  );
}

// ---- TinyStories ----

const paragraphs = readFileSync(join(shared, 'datasets/tinystories_val_sample/tinystories_val.txt'), 'utf8')
  .split(/\n\s*\n/)
  .map((p) => p.split(/\s+/).filter(Boolean))
  .filter((words) => words.length >= 12 && words.length <= 50)
  .map((words) => words.join(' '));

const SHE = ['she', 'She', 'her', 'Her'];
const HE = ['he', 'He', 'him', 'his', 'His'];
writeTask(
  'tinystories-gender',
  paragraphs.flatMap((text) => {
    const she = hasWord(text, SHE);
    const he = hasWord(text, HE);
    return she !== he ? [{ text, label: she ? 'girl' : 'boy' }] : [];
  }),
);

writeTask(
  'tinystories-name',
  paragraphs.flatMap((text) => {
    const lily = hasWord(text, ['Lily']);
    const tim = hasWord(text, ['Tim', 'Timmy']);
    return lily !== tim ? [{ text, label: lily ? 'Lily' : 'Tim' }] : [];
  }),
);

const HAPPY = ['happy', 'glad', 'smiled', 'smile', 'smiling', 'laughed', 'joy'];
const SAD = ['sad', 'cried', 'cry', 'crying', 'upset', 'scared', 'angry'];
writeTask(
  'tinystories-mood',
  paragraphs.flatMap((text) => {
    const happy = hasWord(text, HAPPY);
    const sad = hasWord(text, SAD);
    return happy !== sad ? [{ text, label: happy ? 'happy' : 'sad' }] : [];
  }),
);

// ---- SST-2 and TREC (out of the stories model's domain) ----

const sst = readFileSync(join(shared, 'datasets/sst2/dev_from_glue_train.tsv'), 'utf8')
  .split(/\r?\n/)
  .slice(1)
  .filter((line) => line.trim())
  .map((line) => {
    const [sentence, label] = line.split('\t');
    return { text: sentence.trim(), label: label.trim() === '1' ? 'good' : 'bad' };
  });
writeTask('sst2', sst);

const TREC_WORDS = { DESC: 'meaning', ENTY: 'thing', HUM: 'person', LOC: 'place', NUM: 'number' };
const trec = new TextDecoder('latin1')
  .decode(readFileSync(join(shared, 'datasets/trec/TREC.train')))
  .split(/\r?\n/)
  .filter((line) => line.trim())
  .map((line) => {
    const space = line.indexOf(' ');
    return { text: line.slice(space + 1).trim(), label: TREC_WORDS[line.slice(0, space).split(':')[0]] };
  })
  .filter((item) => item.label !== undefined);
writeTask('trec', trec);
