import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JsonRecordScanner } from './json-reader';
import type { ReaderEvent } from './reader-events';

function scan(text: string, cuts: number[] = []): ReaderEvent[] {
  const scanner = new JsonRecordScanner();
  const events: ReaderEvent[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < text.length)].sort((a, b) => a - b)) {
    events.push(...scanner.push(text.slice(from, cut)));
    from = cut;
  }
  events.push(...scanner.push(text.slice(from)), ...scanner.end());
  return events;
}

const summary = (events: ReaderEvent[]): unknown[] =>
  events.map((e) => (e.type === 'row' ? ['row', e.row.line, e.row.values] : e.type === 'issue' ? [e.issue.kind, e.issue.line] : ['columns']));

describe('JsonRecordScanner', () => {
  it('reads an array of records with the line each starts on', () => {
    const text = '[\n  {"a": 1,\n   "b": "x ] } ["},\n  {"a": 2}\n]\n';
    expect(summary(scan(text))).toEqual([
      ['row', 2, { a: 1, b: 'x ] } [' }],
      ['row', 4, { a: 2 }],
    ]);
  });

  it('reads the array held by an object, skipping other members', () => {
    const text = '{"version": {"n": [1, 2]}, "note": "[not this]", "data": [{"t": "a"}, "plain"], "after": 1}';
    expect(summary(scan(text))).toEqual([
      ['row', 1, { t: 'a' }],
      ['row', 1, { text: 'plain' }],
    ]);
  });

  it('gives the same rows however the text is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean())), { maxLength: 6 }),
        fc.array(fc.nat(400), { maxLength: 6 }),
        (records, cuts) => {
          const text = JSON.stringify(records, null, 1);
          const rows = scan(text, cuts).filter((e) => e.type === 'row');
          expect(rows.map((e) => (e.type === 'row' ? e.row.values : null))).toEqual(records);
          expect(summary(scan(text, cuts))).toEqual(summary(scan(text)));
        },
      ),
    );
  });

  it('reports a bad record at its line and goes on', () => {
    const text = '[\n{"a": 1},\n{"a": ,\n "b": 2},\n{"a": 3}\n]';
    expect(summary(scan(text))).toEqual([
      ['row', 2, { a: 1 }],
      ['unparseable', 3],
      ['row', 5, { a: 3 }],
    ]);
  });

  it('reports missing commas, non-object records, a missing ] and a non-JSON start', () => {
    expect(summary(scan('[{"a":1} {"a":2}]'))).toEqual([
      ['row', 1, { a: 1 }],
      ['unparseable', 1],
      ['row', 1, { a: 2 }],
    ]);
    expect(summary(scan('[1]'))).toEqual([['wrong_type', 1]]);
    expect(summary(scan('[{"a":1},\n'))).toEqual([
      ['row', 1, { a: 1 }],
      ['unparseable', 2],
    ]);
    expect(summary(scan('hello'))).toEqual([['unparseable', 1]]);
    expect(summary(scan('{"a": 1}'))).toEqual([['unparseable', 1]]);
    expect(summary(scan(''))).toEqual([]);
  });
});
