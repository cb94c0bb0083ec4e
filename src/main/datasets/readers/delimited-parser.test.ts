import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DelimitedParser, type DelimitedEvent } from './delimited-parser';
import { detectHeader } from './header-detect';
import { readDelimited } from './delimited-reader';
import type { ReaderEvent } from './reader-events';

function parse(text: string, delimiter = ',', cuts: number[] = []): DelimitedEvent[] {
  const parser = new DelimitedParser({ delimiter });
  const events: DelimitedEvent[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < text.length)].sort((a, b) => a - b)) {
    events.push(...parser.push(text.slice(from, cut)));
    from = cut;
  }
  events.push(...parser.push(text.slice(from)), ...parser.end());
  return events;
}

const records = (events: DelimitedEvent[]): [number, string[]][] => events.flatMap((e) => (e.type === 'record' ? [[e.record.line, e.record.fields] as [number, string[]]] : []));

async function collect(text: string, opts: Parameters<typeof readDelimited>[1]): Promise<ReaderEvent[]> {
  async function* one(): AsyncGenerator<string> {
    yield text;
  }
  const out: ReaderEvent[] = [];
  for await (const e of readDelimited(one(), opts)) out.push(e);
  return out;
}

describe('DelimitedParser', () => {
  it('reads quoted fields holding delimiters, "" and newlines, and counts lines from the record start', () => {
    const text = 'a,b\n"x, y","say ""hi"""\n"multi\nline\tfield",2\nlast,3';
    expect(records(parse(text))).toEqual([
      [1, ['a', 'b']],
      [2, ['x, y', 'say "hi"']],
      [3, ['multi\nline\tfield', '2']],
      [5, ['last', '3']],
    ]);
  });

  it('reads TSV with quoted tabs and skips blank lines', () => {
    expect(records(parse('s\tl\n\n"a\tb"\t1\n', '\t'))).toEqual([
      [1, ['s', 'l']],
      [3, ['a\tb', '1']],
    ]);
  });

  it('gives the same records however the text is cut into chunks', () => {
    const field = fc.string({ maxLength: 12 }).map((s) => s.replace(/\r/g, ''));
    fc.assert(
      fc.property(fc.array(fc.array(field, { minLength: 2, maxLength: 2 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(200), { maxLength: 6 }), (rows, cuts) => {
        const text = rows.map((r) => r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')).join('\n') + '\n';
        const whole = records(parse(text));
        expect(whole.map(([, f]) => f)).toEqual(rows);
        expect(records(parse(text, ',', cuts))).toEqual(whole);
      }),
    );
  });

  it('reports a stray quote and resumes on the next line', () => {
    const events = parse('"ok",1\n"bad "q" x,2\nnext,3\n');
    expect(events.map((e) => (e.type === 'bad' ? ['bad', e.line] : ['ok', e.record.line]))).toEqual([
      ['ok', 1],
      ['bad', 2],
      ['ok', 3],
    ]);
  });

  it('reports a quote never closed at its record and re-reads the lines it swallowed', () => {
    const events = parse('a,1\n"open,2\nb,3\nc,4\n');
    expect(events.map((e) => (e.type === 'bad' ? `bad@${e.line}` : `${e.record.fields[0]}@${e.record.line}`))).toEqual(['a@1', 'bad@2', 'b@3', 'c@4']);
  });
});

describe('header detection', () => {
  it.each([
    [
      [
        ['text', 'label'],
        ['a great film', '1'],
        ['dull', '0'],
      ],
      true,
    ],
    [
      [
        ['mr', 'ref'],
        ['name[Alimentum], area[city centre]', 'There is a place in the city centre.'],
      ],
      true,
    ],
    [
      [
        ['review', 'stars'],
        ['loved every minute of it', '5'],
        ['not for me at all', '2'],
      ],
      true,
    ],
    [
      [
        ['3', 'Fears for T N pension', 'Unions representing workers'],
        ['4', 'The Race is On', 'SPACE.com - TORONTO'],
      ],
      false,
    ],
    [
      [
        ['Scientists go back to the drawing board in the lab.', 'Sci/Tech'],
        ['Stocks fell', 'Business'],
      ],
      false,
    ],
    [
      [
        ['World', 'Sports'],
        ['World', 'Sports'],
      ],
      false,
    ],
    [[['text', 'label']], true],
    [[['the only example here', 'pos']], false],
  ])('%j → %s', (rows, expected) => {
    expect(detectHeader(rows)).toBe(expected);
  });
});

describe('readDelimited', () => {
  it('names header-less columns column1… and flags rows with too many fields', async () => {
    const events = await collect('hello there friend\tpos\nbye now\tneg\textra\n', { delimiter: '\t' });
    expect(events[0]).toEqual({ type: 'columns', columns: ['column1', 'column2'], header: false });
    expect(events[1]).toMatchObject({ type: 'row', row: { ordinal: 1, line: 1, values: { column1: 'hello there friend', column2: 'pos' } } });
    expect(events[2]).toMatchObject({ type: 'issue', issue: { kind: 'unparseable', line: 2, ordinal: 2 } });
  });

  it('reads a TSV line with an unbalanced quote without quoting, with a warning', async () => {
    const events = await collect('text\tlabel\n"quoted" start of text\tpos\n', { delimiter: '\t' });
    expect(events).toContainEqual(expect.objectContaining({ type: 'issue', issue: expect.objectContaining({ kind: 'quote', severity: 'warning', line: 2 }) }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'row', row: expect.objectContaining({ values: { text: '"quoted" start of text', label: 'pos' } }) }));
  });

  it('honours an explicit header decision', async () => {
    const events = await collect('text,label\nx,y\n', { delimiter: ',', header: false });
    expect(events.filter((e) => e.type === 'row')).toHaveLength(2);
  });
});
