// The corpus of broken files in tests/fixtures/datasets-broken: each gives its documented error at the
// right line (or says it cannot be read at all), and never throws or hangs.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeFile } from 'node:fs/promises';
import { InspectResultSchema, type IssueKind } from '@shared/contract/datasets';
import { ApiError } from '@shared/errors';
import { importDataset, inspectDataset } from '../services/dataset-service';
import { brokenDir, tempDir } from './testing/test-data';

interface Case {
  file: string;
  exitCode: 0 | 1 | 2;
  rows: number;
  validRows: number;
  errors: { kind: IssueKind; line?: number; field?: string; message?: RegExp }[];
  warnings?: { kind: IssueKind; line?: number }[];
  encoding?: string;
}

const CASES: Case[] = [
  { file: 'truncated.json', exitCode: 1, rows: 3, validRows: 2, errors: [{ kind: 'unparseable', line: 4, message: /ends inside the record that starts at line 4/ }] },
  { file: 'bad-quote.csv', exitCode: 1, rows: 4, validRows: 3, errors: [{ kind: 'unparseable', line: 4, message: /after a closing quote/ }] },
  { file: 'unterminated-quote.csv', exitCode: 1, rows: 3, validRows: 2, errors: [{ kind: 'unparseable', line: 3, message: /never closed/ }] },
  { file: 'missing-field.csv', exitCode: 1, rows: 3, validRows: 2, errors: [{ kind: 'missing_field', line: 3, field: 'label' }] },
  { file: 'missing-field.jsonl', exitCode: 1, rows: 3, validRows: 2, errors: [{ kind: 'missing_field', line: 2, field: 'label' }] },
  {
    file: 'bad-lines.jsonl',
    exitCode: 1,
    rows: 6,
    validRows: 3,
    errors: [
      { kind: 'unparseable', line: 3, message: /not valid JSON/ },
      { kind: 'missing_field', line: 4, field: 'label' },
      { kind: 'wrong_type', line: 5, message: /found an array/ },
    ],
  },
  {
    file: 'wrong-type.jsonl',
    exitCode: 1,
    rows: 3,
    validRows: 1,
    errors: [
      { kind: 'wrong_type', line: 2, field: 'text' },
      { kind: 'wrong_type', line: 3, field: 'label' },
    ],
  },
  { file: 'empty-text.csv', exitCode: 1, rows: 3, validRows: 2, errors: [{ kind: 'empty_text', line: 3, field: 'text' }] },
  { file: 'latin1.tsv', exitCode: 0, rows: 3, validRows: 3, errors: [], warnings: [{ kind: 'encoding', line: 2 }], encoding: 'windows-1252' },
  { file: 'mixed-encoding.csv', exitCode: 0, rows: 3, validRows: 3, errors: [], warnings: [{ kind: 'encoding', line: 3 }], encoding: 'utf-8' },
  { file: 'utf16-no-bom.csv', exitCode: 2, rows: 0, validRows: 0, errors: [{ kind: 'unreadable', message: /NUL bytes.*byte-order mark/ }] },
  { file: 'empty.csv', exitCode: 1, rows: 0, validRows: 0, errors: [{ kind: 'no_rows', line: 1, message: /the file is empty/ }] },
  { file: 'whitespace-only.jsonl', exitCode: 1, rows: 0, validRows: 0, errors: [{ kind: 'no_rows', line: 1, message: /no records/ }] },
  { file: 'one-row.csv', exitCode: 0, rows: 1, validRows: 1, errors: [] },
  { file: 'header-only.csv', exitCode: 1, rows: 0, validRows: 0, errors: [{ kind: 'no_rows', line: 1, message: /only a header row \(text, label\)/ }] },
  { file: 'binary.csv', exitCode: 2, rows: 0, validRows: 0, errors: [{ kind: 'unreadable', message: /gzip archive/ }] },
  { file: 'nul-bytes.csv', exitCode: 2, rows: 0, validRows: 0, errors: [{ kind: 'unreadable', message: /binary data/ }] },
  { file: 'not-parquet.parquet', exitCode: 2, rows: 0, validRows: 0, errors: [{ kind: 'unreadable', message: /PAR1/ }] },
  { file: 'truncated.parquet', exitCode: 2, rows: 0, validRows: 0, errors: [{ kind: 'unreadable', message: /not a readable Parquet file/ }] },
];

describe('broken dataset files', () => {
  it.each(CASES)('$file → exit $exitCode', async (c) => {
    const file = join(brokenDir, c.file);
    const result = await inspectDataset(file);
    expect(result.exitCode).toBe(c.exitCode);
    expect(result.status).toBe(['valid', 'invalid', 'unreadable'][c.exitCode]);
    expect(result.rows).toBe(c.rows);
    expect(result.validRows).toBe(c.validRows);
    expect(result.errors).toHaveLength(c.errors.length);
    c.errors.forEach((want, i) => {
      const got = result.errors[i];
      expect(got.kind).toBe(want.kind);
      expect(got.file).toBe(file);
      expect(got.line).toBe(want.line);
      if (want.field) expect(got.field).toBe(want.field);
      if (want.message) expect(got.message).toMatch(want.message);
    });
    const kinds = result.errors.reduce<Record<string, number>>((acc, e) => ({ ...acc, [e.kind]: (acc[e.kind] ?? 0) + 1 }), {});
    expect(result.errorCounts).toEqual(kinds);
    for (const want of c.warnings ?? []) expect(result.warnings).toContainEqual(expect.objectContaining(want));
    if (c.encoding) expect(result.encoding).toBe(c.encoding);
    // The whole result is the CLI's JSON: it must match the contract and survive a round trip.
    expect(InspectResultSchema.parse(result)).toEqual(result);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('decodes Latin-1 text correctly', async () => {
    const result = await inspectDataset(join(brokenDir, 'latin1.tsv'));
    expect(result.preview.map((p) => p.values.text)).toEqual(['café au lait', 'naïve question', 'plain ascii']);
  });

  it('reads the rows around a bad quote', async () => {
    const result = await inspectDataset(join(brokenDir, 'bad-quote.csv'));
    expect(result.preview.map((p) => [p.line, p.values.text])).toEqual([
      [2, 'fine row'],
      [3, 'a "quoted" word'],
      [5, 'plain row'],
    ]);
  });

  it('reports a split a 1-row file cannot give', async () => {
    const result = await inspectDataset(join(brokenDir, 'one-row.csv'), { split: { evalFraction: 0.5 } });
    expect(result.errors).toEqual([expect.objectContaining({ kind: 'too_few_examples', line: 2, field: 'label' })]);
  });

  it('reports a mapping to a column the file does not have, once, at the header', async () => {
    const result = await inspectDataset(join(brokenDir, 'one-row.csv'), { map: { label: 'category' } });
    expect(result.errors).toEqual([expect.objectContaining({ kind: 'mapping', line: 1, field: 'label', message: expect.stringMatching(/no column "category"/) })]);
  });

  it('reports unknown labels against a label list', async () => {
    const result = await inspectDataset(join(brokenDir, 'missing-field.csv'), { labels: ['pos'] });
    expect(result.errors).toContainEqual(expect.objectContaining({ kind: 'unknown_label', line: 4, field: 'label' }));
  });

  it('refuses to import invalid rows unless asked, then records how many were left out', async () => {
    const home = await tempDir();
    try {
      const file = join(brokenDir, 'bad-lines.jsonl');
      const err = await importDataset(file, {}, home.dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect(err).toMatchObject({ code: 'invalid_data', file, line: 3 });
      const manifest = await importDataset(file, { excludeInvalid: true }, home.dir);
      expect(manifest).toMatchObject({ rows: 6, examples: 3, excluded: 3, excludedCounts: { unparseable: 1, missing_field: 1, wrong_type: 1 } });
      await expect(importDataset(join(brokenDir, 'binary.csv'), { excludeInvalid: true }, home.dir)).rejects.toMatchObject({ code: 'bad_file' });
      await expect(importDataset(join(brokenDir, 'header-only.csv'), { excludeInvalid: true }, home.dir)).rejects.toMatchObject({ code: 'invalid_data' });
    } finally {
      await home.cleanup();
    }
  });

  it('keeps going after the first error: lists the first 100, counts them all', async () => {
    const home = await tempDir();
    try {
      const lines = Array.from({ length: 300 }, (_, i) => (i % 2 ? `{"text": "row ${i}", "label": "x"}` : `{"text": "row ${i}", "label": `));
      const file = join(home.dir, 'many-bad.jsonl');
      await writeFile(file, lines.join('\n'));
      const result = await inspectDataset(file);
      expect(result.errors).toHaveLength(100);
      expect(result.errorCounts).toEqual({ unparseable: 150 });
      expect(result.errors.slice(0, 3).map((e) => e.line)).toEqual([1, 3, 5]);
      expect(result).toMatchObject({ rows: 300, validRows: 150, exitCode: 1 });
    } finally {
      await home.cleanup();
    }
  });

  it('never throws on arbitrary content, whatever the extension', async () => {
    const home = await tempDir();
    try {
      const piece = fc.constantFrom('"', ',', '\t', '\n', '\r\n', '{', '}', '[', ']', ':', '\\', 'text', 'label', ' ', 'é', '\u0000', '####', 'NUM:dist');
      const content = fc.oneof(
        fc.array(piece, { maxLength: 40 }).map((p) => Buffer.from(p.join(''))),
        fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      );
      let n = 0;
      await fc.assert(
        fc.asyncProperty(content, fc.constantFrom('csv', 'tsv', 'json', 'jsonl', 'txt', 'parquet', 'dat'), async (bytes, ext) => {
          const file = join(home.dir, `fuzz-${n++}.${ext}`);
          await writeFile(file, bytes);
          const result = await inspectDataset(file, { split: { evalFraction: 0.5 } });
          expect([0, 1, 2]).toContain(result.exitCode);
          expect(result.rows).toBeGreaterThanOrEqual(result.validRows);
          InspectResultSchema.parse(result);
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
      );
    } finally {
      await home.cleanup();
    }
  });

  it('says a missing file cannot be read (exit 2)', async () => {
    const result = await inspectDataset(join(brokenDir, 'no-such-file.csv'));
    expect(result).toMatchObject({ status: 'unreadable', exitCode: 2, errors: [expect.objectContaining({ kind: 'unreadable', message: expect.stringMatching(/no such file/) })] });
  });
});
