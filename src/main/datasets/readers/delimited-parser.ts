// RFC 4180 records from a stream of text: quoted fields may hold the delimiter, "" and newlines. A record
// is re-parsed from its start when a chunk ends inside it, so the parser keeps no partial-field state.
// After a malformed record, parsing resumes at the line after the record's first line.

export interface DelimitedRecord {
  fields: string[];
  /** 1-based line the record starts on. */
  line: number;
}

export type DelimitedEvent =
  | { type: 'record'; record: DelimitedRecord }
  /** isTooLong: the line was skipped unread (over maxRecordChars); rawLine is then empty. */
  | { type: 'bad'; line: number; message: string; rawLine: string; isTooLong?: boolean };

export interface DelimitedParserOptions {
  delimiter: string;
  /** Longest record, in characters, before an open quote is taken to be unterminated. */
  maxRecordChars?: number;
}

type ParseResult = { kind: 'ok'; fields: string[]; end: number; newlines: number } | { kind: 'more' } | { kind: 'error'; message: string; newlines: number };

const DEFAULT_MAX_RECORD_CHARS = 4 << 20;

export class DelimitedParser {
  private buf = '';
  private pos = 0;
  private line = 1;
  /** A malformed record over the limit with no newline yet: its line is dropped, not buffered, up to the newline. */
  private skipping: { line: number; message: string } | null = null;
  private readonly delim: number;
  private readonly maxRecordChars: number;

  constructor(opts: DelimitedParserOptions) {
    this.delim = opts.delimiter.charCodeAt(0);
    this.maxRecordChars = opts.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  }

  push(chunk: string): DelimitedEvent[] {
    const events: DelimitedEvent[] = [];
    if (this.skipping) {
      const nl = chunk.indexOf('\n');
      if (nl === -1) return events;
      events.push(this.endSkip());
      chunk = chunk.slice(nl + 1);
    }
    if (this.pos > 0) {
      this.buf = this.buf.slice(this.pos);
      this.pos = 0;
    }
    this.buf += chunk;
    events.push(...this.run(false));
    return events;
  }

  end(): DelimitedEvent[] {
    if (this.skipping) return [this.endSkip()];
    return this.run(true);
  }

  private endSkip(): DelimitedEvent {
    const { line, message } = this.skipping!;
    this.skipping = null;
    this.line++;
    return { type: 'bad', line, message, rawLine: '', isTooLong: true };
  }

  private run(final: boolean): DelimitedEvent[] {
    const events: DelimitedEvent[] = [];
    const buf = this.buf;
    while (this.pos < buf.length) {
      // Blank lines separate nothing in CSV; skip them without a record.
      if (buf.charCodeAt(this.pos) === 10) {
        this.pos++;
        this.line++;
        continue;
      }
      let result = parseRecord(buf, this.pos, this.delim, final);
      if (result.kind === 'more' && buf.length - this.pos > this.maxRecordChars) {
        const message = `a record longer than ${this.maxRecordChars.toLocaleString('en')} characters (a quote never closed, or a missing newline?)`;
        result = { kind: 'error', message, newlines: 0 };
      }
      if (result.kind === 'more') break;
      if (result.kind === 'ok') {
        events.push({ type: 'record', record: { fields: result.fields, line: this.line } });
        this.line += result.newlines + 1;
        this.pos = result.end;
        continue;
      }
      // Malformed: report it, then resume on the next physical line so later rows still parse.
      const nl = buf.indexOf('\n', this.pos);
      if (nl === -1 && !final) {
        if (buf.length - this.pos > this.maxRecordChars) {
          // One huge line (a 1 GB file without newlines): stop buffering it; skip to its newline.
          this.skipping = { line: this.line, message: result.message };
          this.buf = '';
          this.pos = 0;
          return events;
        }
        break;
      }
      const lineEnd = nl === -1 ? buf.length : nl;
      events.push({ type: 'bad', line: this.line, message: result.message, rawLine: buf.slice(this.pos, lineEnd) });
      this.pos = nl === -1 ? buf.length : nl + 1;
      this.line++;
    }
    return events;
  }
}

/** Parses one record starting at `start`. `end` is past its newline (or at the end of the text). */
function parseRecord(buf: string, start: number, delim: number, final: boolean): ParseResult {
  const fields: string[] = [];
  const n = buf.length;
  let i = start;
  let newlines = 0;
  for (;;) {
    if (i < n && buf.charCodeAt(i) === 34) {
      // Quoted field.
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = buf.indexOf('"', from);
        if (q === -1) {
          if (!final) return { kind: 'more' };
          return { kind: 'error', message: 'a quoted field is never closed (missing ")', newlines };
        }
        newlines += countNewlines(buf, from, q);
        value += buf.slice(from, q);
        if (q + 1 >= n && !final) return { kind: 'more' };
        if (buf.charCodeAt(q + 1) === 34) {
          value += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i >= n) return { kind: 'ok', fields, end: n, newlines };
      const c = buf.charCodeAt(i);
      if (c === delim) {
        i++;
        continue;
      }
      if (c === 10) return { kind: 'ok', fields, end: i + 1, newlines };
      return { kind: 'error', message: `unexpected ${JSON.stringify(buf[i])} after a closing quote (a stray " inside a field?)`, newlines };
    }
    // Unquoted field: up to the delimiter or the end of the line.
    let j = i;
    while (j < n) {
      const c = buf.charCodeAt(j);
      if (c === delim || c === 10) break;
      j++;
    }
    if (j >= n && !final) return { kind: 'more' };
    fields.push(buf.slice(i, j));
    if (j >= n) return { kind: 'ok', fields, end: n, newlines };
    if (buf.charCodeAt(j) === 10) return { kind: 'ok', fields, end: j + 1, newlines };
    i = j + 1;
  }
}

function countNewlines(buf: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if (buf.charCodeAt(i) === 10) count++;
  return count;
}
