// CSV/TSV records → rows keyed by column name. The first records are held back until the header question
// is settled (or `header` says); header-less columns are named column1…columnN.
import { DelimitedParser, type DelimitedEvent, type DelimitedRecord } from './delimited-parser';
import { detectHeader, positionalNames, uniqueColumnNames } from './header-detect';
import { ApiError } from '@shared/errors';
import { parseError, type ReaderEvent } from './reader-events';

/** More columns than any text dataset has; a row is an object keyed by column, so this bounds memory. */
export const MAX_COLUMNS = 10_000;

export interface DelimitedReaderOptions {
  delimiter: ',' | '\t' | ';' | '|';
  /** Force the header decision; detected from the first rows when absent. */
  header?: boolean;
  /** Records to look at before deciding on the header. */
  sniffRecords?: number;
}

export async function* readDelimited(chunks: AsyncIterable<string>, opts: DelimitedReaderOptions): AsyncGenerator<ReaderEvent> {
  const parser = new DelimitedParser({ delimiter: opts.delimiter });
  const sniffRecords = opts.sniffRecords ?? 50;
  const held: DelimitedEvent[] = [];
  let shaper: RowShaper | undefined;

  function* drain(events: DelimitedEvent[]): Generator<ReaderEvent> {
    for (const event of events) {
      if (!shaper) {
        held.push(event);
        if (held.filter((e) => e.type === 'record').length < sniffRecords) continue;
        shaper = new RowShaper(held, opts);
        yield* shaper.start();
        continue;
      }
      yield* shaper.shape(event);
    }
  }

  for await (const chunk of chunks) yield* drain(parser.push(chunk));
  yield* drain(parser.end());
  if (!shaper) {
    shaper = new RowShaper(held, opts);
    yield* shaper.start();
  }
}

class RowShaper {
  private columns: string[] = [];
  private header = false;
  private ordinal = 0;

  constructor(
    private readonly held: DelimitedEvent[],
    private readonly opts: DelimitedReaderOptions,
  ) {}

  *start(): Generator<ReaderEvent> {
    const records = this.held.filter((e): e is { type: 'record'; record: DelimitedRecord } => e.type === 'record').map((e) => e.record);
    if (records.length === 0) {
      // Nothing but malformed lines (or nothing at all).
      for (const event of this.held) yield* this.shape(event);
      return;
    }
    const first = records[0];
    if (first.fields.length > MAX_COLUMNS) {
      // Every row would be an object of that many keys: refuse the file before holding any.
      throw new ApiError(
        'bad_file',
        `the first row has ${first.fields.length.toLocaleString('en')} fields; at most ${MAX_COLUMNS.toLocaleString('en')} columns are supported (wrong delimiter?)`,
        { line: first.line },
      );
    }
    const header = this.opts.header ?? detectHeader(records.map((r) => r.fields));
    this.header = header;
    this.columns = header ? uniqueColumnNames(first.fields) : positionalNames(first.fields.length);
    yield { type: 'columns', columns: this.columns, header };
    for (const event of this.held) {
      if (header && event.type === 'record' && event.record === first) continue;
      yield* this.shape(event);
    }
  }

  *shape(event: DelimitedEvent): Generator<ReaderEvent> {
    const ordinal = ++this.ordinal;
    if (event.type === 'bad') {
      const fallback = event.isTooLong ? undefined : this.unquoted(event.rawLine);
      if (fallback) {
        // TSV writers often leave quotes unescaped; a line that splits into the right fields is kept.
        yield { type: 'issue', issue: { kind: 'quote', severity: 'warning', line: event.line, message: `${event.message}; read this line without quoting` } };
        yield { type: 'row', row: { ordinal, line: event.line, values: this.toValues(fallback) } };
        return;
      }
      yield parseError(event.line, event.message, ordinal);
      return;
    }
    const { fields, line } = event.record;
    if (this.columns.length > 0 && fields.length > this.columns.length) {
      const expected = `${this.header ? 'the header has' : 'the first row has'} ${this.columns.length}`;
      yield parseError(line, `${fields.length} fields where ${expected} (an unquoted ${JSON.stringify(this.opts.delimiter)} inside a field?)`, ordinal);
      return;
    }
    yield { type: 'row', row: { ordinal, line, values: this.toValues(fields) } };
  }

  private unquoted(rawLine: string): string[] | undefined {
    if (this.opts.delimiter !== '\t' || this.columns.length === 0) return undefined;
    const fields = rawLine.split('\t');
    return fields.length === this.columns.length ? fields : undefined;
  }

  private toValues(fields: string[]): Record<string, unknown> {
    // Short rows leave trailing columns absent, so a mapped one shows up as a missing field. fromEntries
    // defines keys, so a column named "__proto__" stays a column instead of replacing the prototype.
    if (this.columns.length === 0) return Object.fromEntries(fields.map((f, i) => [`column${i + 1}`, f]));
    return Object.fromEntries(fields.slice(0, this.columns.length).map((f, i) => [this.columns[i], f]));
  }
}
