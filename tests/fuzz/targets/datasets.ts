// Dataset readers (JSONL, JSON, CSV, TSV, text, TREC, Parquet). Two levels:
// - stream targets feed generated or mutated bytes through the real decoding chain (BOM, UTF-8 → Windows-1252
//   fallback, newline normalising) into one reader, cut into random chunks; events must be well formed
//   (ordinals increasing, lines in range, clear located problems) and identical to a one-chunk read;
// - the file target runs the whole inspect pass (scanDataset) on a file of any format; its result must match
//   the contract's InspectResult schema (what the API sends) and every problem must name file and line.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { InspectResultSchema } from '@shared/contract/datasets';
import { detectBom } from '../../../src/main/datasets/encoding/sniff-file';
import { FallbackDecoder, NewlineNormaliser } from '../../../src/main/datasets/encoding/text-decoder';
import { readDelimited } from '../../../src/main/datasets/readers/delimited-reader';
import { readJsonDocument } from '../../../src/main/datasets/readers/json-reader';
import { readJsonl } from '../../../src/main/datasets/readers/jsonl-reader';
import type { ReaderEvent } from '../../../src/main/datasets/readers/reader-events';
import { readText } from '../../../src/main/datasets/readers/text-reader';
import { readTrec } from '../../../src/main/datasets/readers/trec-reader';
import { scanDataset } from '../../../src/main/datasets/scan/scan-dataset';
import { chunked, mutatedBytes } from '../lib/mutate';
import { ACCEPTED, defineTarget, rejected, type CaseOutcome, type FuzzTarget } from '../lib/target';
import { assertSendable, CaseFailure, flatSerialize, judgeError, unclearReason } from '../lib/verdict';

const REPO = resolve(import.meta.dirname, '../../..');
const BROKEN = join(REPO, 'tests/fixtures/datasets-broken');
const PARQUET = join(REPO, 'src/main/datasets/testing/fixtures');

function fixtureBytes(dir: string, pattern: RegExp): Uint8Array[] {
  try {
    return readdirSync(dir)
      .filter((n) => pattern.test(n))
      .sort()
      .map((n) => new Uint8Array(readFileSync(join(dir, n))));
  } catch {
    return [];
  }
}

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

// ---- generated content ----

/** Cell/field text with everything that trips parsers: quotes, delimiters, newlines, CR, BOM, NUL, astral and lone surrogates. */
const tricky = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '"',
      '""',
      ',',
      ';',
      '\t',
      '|',
      '\n',
      '\r\n',
      '\r',
      '\\',
      '\ufeff',
      '\u0000',
      '\ud83d\ude00',
      '\ud800',
      'a"b',
      '"quoted"',
      ' ',
      '####',
      'LOC:city',
      '{',
      '[',
      '}',
      ']',
      'null',
      'true',
      '1e999',
      '-0',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);

const fieldName = fc.oneof(
  fc.constantFrom('text', 'label', 'sentence', 'prompt', 'completion', 'instruction', 'input', 'output', 'messages', 'question', 'answer', 'id', '', '__proto__', 'constructor'),
  fc.string({ maxLength: 8 }),
);

const message = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool', ''), content: tricky }),
  fc.record({ from: fc.constantFrom('human', 'gpt', 'bot', 'x'), value: tricky }),
  fc.jsonValue({ maxDepth: 2 }),
);

const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: tricky },
  { weight: 2, arbitrary: fc.integer({ min: -3, max: 5 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false) },
  { weight: 1, arbitrary: fc.array(message, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const record = fc.oneof({ weight: 6, arbitrary: fc.dictionary(fieldName, fieldValue, { maxKeys: 5 }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) });

/** A record nested deep enough to overflow any recursive walk (JSON.stringify, structured clone) of the row. */
const deepRecordText = fc
  .tuple(fc.integer({ min: 1000, max: 20_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => `{"text":${open.repeat(depth)}${open === '[' ? '' : '1'}${(open === '[' ? ']' : '}').repeat(depth)},"label":1}`);

function encodeText(text: string, encoding: 'utf8' | 'utf8bom' | 'utf16le' | 'latin1'): Uint8Array {
  switch (encoding) {
    case 'utf8':
      return utf8(text);
    case 'utf8bom':
      return utf8('\ufeff' + text);
    case 'utf16le':
      return new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    case 'latin1':
      return new Uint8Array(Buffer.from(text, 'latin1'));
  }
}
const encoding = fc.constantFrom('utf8', 'utf8', 'utf8', 'utf8bom', 'utf16le', 'latin1') as fc.Arbitrary<'utf8' | 'utf8bom' | 'utf16le' | 'latin1'>;
const newline = fc.constantFrom('\n', '\r\n', '\r');

const jsonlText = fc
  .tuple(
    fc.array(
      fc.oneof(
        { weight: 16, arbitrary: record.map((r) => JSON.stringify(r)) },
        { weight: 2, arbitrary: tricky },
        { weight: 2, arbitrary: fc.constant('') },
        { weight: 1, arbitrary: deepRecordText },
      ),
      { maxLength: 12 },
    ),
    newline,
    fc.boolean(),
  )
  .map(([lines, nl, end]) => lines.join(nl) + (end ? nl : ''));

const jsonText = fc
  .tuple(
    fc.array(record, { maxLength: 10 }),
    fc.constantFrom(0, 2, '\t'),
    fc.constantFrom('array', 'array', 'wrapped', 'truncated', 'scalar', 'deep'),
    fc.nat(),
    fc.string({ maxLength: 6 }),
    deepRecordText,
  )
  .map(([records, indent, shape, cut, key, deep]) => {
    if (shape === 'deep') return `[${deep}, ${JSON.stringify(records[0] ?? {})}]`;
    const array = JSON.stringify(records, null, indent);
    if (shape === 'wrapped') return JSON.stringify({ meta: { n: records.length, k: key }, [key || 'data']: records }, null, indent);
    if (shape === 'truncated') return array.slice(0, cut % (array.length + 1));
    if (shape === 'scalar') return JSON.stringify(records[0] ?? key);
    return array;
  });

function delimitedText(delimiter: string): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.array(tricky, { minLength: 0, maxLength: 6 }), { maxLength: 10 }),
      newline,
      fc.constantFrom('quote-needed', 'quote-all', 'none'),
      fc.boolean(),
    )
    .map(([cols, rows, nl, quoting, header]) => {
      const quote = (cell: string): string => {
        const needs = cell.includes('"') || cell.includes(delimiter) || /[\r\n]/.test(cell);
        if (quoting === 'none' || (quoting === 'quote-needed' && !needs)) return cell;
        return `"${cell.replace(/"/g, '""')}"`;
      };
      const lines = rows.map((r) =>
        r
          .slice(0, cols + 1)
          .map(quote)
          .join(delimiter),
      );
      if (header) lines.unshift(['text', 'label', 'extra', 'text', ''].slice(0, cols).join(delimiter));
      return lines.join(nl);
    });
}

const textText = fc.tuple(fc.array(fc.oneof(tricky, fc.constant('')), { maxLength: 15 }), newline).map(([lines, nl]) => lines.join(nl));

const trecText = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.tuple(fc.constantFrom('LOC', 'HUM', 'NUM', 'x'), fc.constantFrom('city', 'ind', 'other', ''), tricky).map(([c, f, t]) => `${c}:${f} ${t}`),
        tricky,
      ),
      { maxLength: 12 },
    ),
    newline,
  )
  .map(([lines, nl]) => lines.join(nl));

const TOKENS = [
  '"',
  '""',
  ',',
  '\t',
  '\n',
  '\r\n',
  '\r',
  '{',
  '}',
  '[',
  ']',
  ':',
  '\\',
  '\\u',
  '\ufeff',
  '\u0000',
  'null',
  '1e999',
  '"text":',
  '"label":',
  new Uint8Array([0xc3]),
  new Uint8Array([0xff, 0xfe]),
  new Uint8Array([0xed, 0xa0, 0x80]),
  new Uint8Array([0xf0, 0x9f, 0x98]),
];

const SEED_TEXTS: Record<string, string[]> = {
  jsonl: ['{"text":"good movie","label":1}\n{"text":"bad","label":0}\n', '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'],
  json: ['[{"instruction":"Add","input":"1 and 2","output":"3"},\n {"instruction":"Say hi","input":"","output":"hi"}]', '{"data":[{"prompt":"a","completion":"b"}]}'],
  csv: ['text,label\n"a, quoted ""cell""",1\nplain,0\n', 'sentence;label\nx;1\ny;2\n'],
  tsv: ['sentence\tlabel\nit is fine\t1\n"open quote\t0\n'],
  text: ['Once upon a time.\nThere was a cat.\n\nThe end.\n'],
  trec: ['LOC:city Where is Paris ?\nHUM:ind Who wrote it ?\n'],
};

function seedsFor(format: string): Uint8Array[] {
  const own = (SEED_TEXTS[format] ?? []).map(utf8);
  const ext = format === 'text' || format === 'trec' ? /\.(txt|csv)$/ : new RegExp(`\\.${format}$`);
  return [...own, ...fixtureBytes(BROKEN, ext)];
}

// ---- the decoding chain, in chunks ----

/** Bytes → decoded, newline-normalised text chunks exactly as TextFileReader produces them, cut at `cuts`. */
function decodeInChunks(bytes: Uint8Array, cuts: number[]): string[] {
  const { bom, bomLength } = detectBom(bytes);
  const decoder = new FallbackDecoder(bom);
  const newlines = new NewlineNormaliser();
  const body = Buffer.from(bom === 'utf-8' ? bytes.subarray(bomLength) : bytes);
  const points = [...new Set(cuts.map((c) => (body.length === 0 ? 0 : c % (body.length + 1))))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of [...points, body.length]) {
    const text = newlines.push(decoder.write(body.subarray(from, p)));
    if (text) out.push(text);
    from = p;
  }
  const tail = newlines.push(decoder.end()) + newlines.end();
  if (tail) out.push(tail);
  return out;
}

async function* fromChunks(chunks: string[]): AsyncGenerator<string> {
  for (const c of chunks) yield c;
}

type Reader = (chunks: AsyncIterable<string>) => AsyncGenerator<ReaderEvent>;

async function collect(reader: Reader, chunks: string[]): Promise<ReaderEvent[]> {
  const events: ReaderEvent[] = [];
  for await (const e of reader(fromChunks(chunks))) events.push(e);
  return events;
}

/** Ordinals strictly increase, lines are whole and in range, problems are clear. */
function checkEvents(events: ReaderEvent[], lineCount: number): CaseOutcome {
  let lastOrdinal = 0;
  let problems = 0;
  for (const e of events) {
    if (e.type === 'columns') {
      if (!Array.isArray(e.columns) || !e.columns.every((c) => typeof c === 'string')) throw new CaseFailure('crash', 'columns event with non-string names');
      continue;
    }
    const line = e.type === 'row' ? e.row.line : e.issue.line;
    if (line !== undefined && (!Number.isInteger(line) || line < 1 || line > lineCount + 1)) {
      throw new CaseFailure('crash', `${e.type} at line ${line}, outside 1…${lineCount + 1}`);
    }
    const ordinal = e.type === 'row' ? e.row.ordinal : e.issue.ordinal;
    if (ordinal !== undefined) {
      if (!Number.isInteger(ordinal) || ordinal <= lastOrdinal) throw new CaseFailure('crash', `ordinal ${ordinal} after ${lastOrdinal}`);
      lastOrdinal = ordinal;
    }
    if (e.type === 'row') {
      const v = e.row.values;
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CaseFailure('crash', 'row values are not an object');
    } else {
      problems++;
      const unclear = unclearReason(e.issue.message);
      if (unclear) throw new CaseFailure('crash', `unclear problem at line ${line}: ${unclear}: ${e.issue.message.slice(0, 200)}`);
      if (line === undefined) throw new CaseFailure('crash', `problem without a line: ${e.issue.message}`);
    }
  }
  return problems > 0 ? rejected('problems') : ACCEPTED;
}

interface StreamInput {
  bytes: Uint8Array;
  cuts: number[];
}

function streamTarget(name: string, format: string, reader: Reader, generated: fc.Arbitrary<string>): FuzzTarget<StreamInput> {
  const seeds = seedsFor(format);
  return defineTarget<StreamInput>({
    name,
    description: `${format} reader over the decoding chain, random chunk cuts; same events as one chunk`,
    arbitrary: () =>
      fc.record({
        bytes: fc.oneof({ weight: 3, arbitrary: fc.tuple(generated, encoding).map(([t, e]) => encodeText(t, e)) }, { weight: 2, arbitrary: mutatedBytes(seeds, TOKENS) }),
        cuts: fc.array(fc.nat(), { maxLength: 6 }),
      }),
    describeInput: (input) => JSON.stringify({ text: Buffer.from(input.bytes).toString('latin1'), cuts: input.cuts }),
    async run({ bytes, cuts }) {
      const whole = decodeInChunks(bytes, []);
      const pieces = decodeInChunks(bytes, cuts);
      if (whole.join('') !== pieces.join('')) throw new CaseFailure('crash', 'decoded text depends on where the chunks were cut');
      const text = whole.join('');
      const lineCount = text.split('\n').length;
      let one: ReaderEvent[];
      let many: ReaderEvent[];
      try {
        one = await collect(reader, whole);
        many = await collect(reader, chunked(text, cuts));
      } catch (err) {
        return rejected(judgeError(err));
      }
      const a = flatSerialize(one);
      const b = flatSerialize(many);
      if (a !== b) throw new CaseFailure('crash', `events depend on chunk boundaries:\n one chunk: ${a.slice(0, 300)}\n chunked:   ${b.slice(0, 300)}`);
      return checkEvents(one, lineCount);
    },
  });
}

export const jsonlReaderTarget = streamTarget('jsonl', 'jsonl', readJsonl, jsonlText);
export const jsonReaderTarget = streamTarget('json', 'json', readJsonDocument, jsonText);
export const csvReaderTarget = streamTarget('csv', 'csv', (c) => readDelimited(c, { delimiter: ',' }), delimitedText(','));
export const tsvReaderTarget = streamTarget('tsv', 'tsv', (c) => readDelimited(c, { delimiter: '\t' }), delimitedText('\t'));
export const textReaderTarget = streamTarget('text', 'text', (c) => readText(c, 'documents'), textText);
export const trecReaderTarget = streamTarget('trec', 'trec', readTrec, trecText);

// ---- whole files through the inspect pass ----

const FORMATS = ['jsonl', 'json', 'csv', 'tsv', 'txt', 'parquet', 'bin'] as const;

interface FileInput {
  ext: (typeof FORMATS)[number];
  bytes: Uint8Array;
  forceFormat?: 'jsonl' | 'json' | 'csv' | 'tsv' | 'text' | 'trec';
  header?: boolean;
}

/** Every problem of a scan names the file; row problems name their line; the result is what the API may send. */
export function checkInspectResult(result: unknown, file: string): CaseOutcome {
  assertSendable(result, 'the inspect result');
  const parsed = InspectResultSchema.safeParse(result);
  if (!parsed.success) throw new CaseFailure('crash', `inspect result breaks the contract: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  const r = parsed.data;
  for (const issue of [...r.errors, ...r.warnings]) {
    if (issue.file !== file) throw new CaseFailure('crash', `problem names file ${issue.file}, not ${file}`);
    const unclear = unclearReason(issue.message);
    if (unclear) throw new CaseFailure('crash', `unclear ${issue.kind} problem: ${unclear}: ${issue.message.slice(0, 200)}`);
    const fileLevel = issue.kind === 'unreadable' || issue.kind === 'no_rows' || issue.kind === 'too_few_examples' || issue.kind === 'bad_split';
    if (!fileLevel && issue.line === undefined) throw new CaseFailure('crash', `${issue.kind} problem without a line: ${issue.message}`);
  }
  return r.status === 'valid' ? ACCEPTED : rejected(r.status);
}

export const datasetFileTarget = defineTarget<FileInput>({
  name: 'dataset-file',
  description: 'whole files of every format (generated, mutated fixtures, mutated Parquet) through scanDataset (inspect)',
  maxCaseMs: 15_000,
  arbitrary: () => {
    const parquetSeeds = fixtureBytes(PARQUET, /\.parquet$/);
    const textual = fc.oneof(
      fc.tuple(jsonlText, encoding).map(([t, e]) => ({ ext: 'jsonl' as const, bytes: encodeText(t, e) })),
      fc.tuple(jsonText, encoding).map(([t, e]) => ({ ext: 'json' as const, bytes: encodeText(t, e) })),
      fc.tuple(delimitedText(','), encoding).map(([t, e]) => ({ ext: 'csv' as const, bytes: encodeText(t, e) })),
      fc.tuple(delimitedText('\t'), encoding).map(([t, e]) => ({ ext: 'tsv' as const, bytes: encodeText(t, e) })),
      fc.tuple(fc.oneof(textText, trecText), encoding).map(([t, e]) => ({ ext: 'txt' as const, bytes: encodeText(t, e) })),
      fc.tuple(fc.constantFrom(...FORMATS), mutatedBytes([...seedsFor('jsonl'), ...seedsFor('csv'), ...seedsFor('json')], TOKENS)).map(([ext, bytes]) => ({ ext, bytes })),
    );
    const parquet = mutatedBytes(parquetSeeds, [new Uint8Array([0xff, 0xff, 0xff, 0x7f]), new Uint8Array([0, 0, 0, 0]), 'PAR1']).map((bytes) => ({
      ext: 'parquet' as const,
      bytes,
    }));
    return fc
      .tuple(
        fc.oneof({ weight: 4, arbitrary: textual }, { weight: 1, arbitrary: parquet }),
        fc.option(fc.constantFrom('jsonl', 'json', 'csv', 'tsv', 'text', 'trec') as fc.Arbitrary<NonNullable<FileInput['forceFormat']>>, { freq: 5 }),
        fc.option(fc.boolean(), { freq: 3 }),
      )
      .map(([file, forceFormat, header]) => ({ ...file, ...(forceFormat ? { forceFormat } : {}), ...(header !== null ? { header } : {}) }));
  },
  describeInput: (input) => JSON.stringify({ ...input, bytes: Buffer.from(input.bytes).toString('base64') }),
  async run(input, ctx) {
    const file = join(ctx.tmp, `case.${input.ext}`);
    writeFileSync(file, input.bytes);
    let result;
    try {
      result = await scanDataset(file, { format: input.forceFormat, header: input.header, previewRows: 3, labelNamesFile: false });
    } catch (err) {
      return rejected(judgeError(err, { needsFile: true }));
    }
    return checkInspectResult(result.result, file);
  },
});
