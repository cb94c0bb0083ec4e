// A JSON document of records, read incrementally: a top-level array of records, or an object whose first
// array-valued member holds them ({"data": [...]}). Only one record is in memory at a time, and a
// truncated file still yields every record before the cut.
import { asRecord, describeType, parseError, type ReaderEvent } from './reader-events';
import { MAX_LINE_CHARS, tooLongMessage } from './split-lines';

export async function* readJsonDocument(chunks: AsyncIterable<string>): AsyncGenerator<ReaderEvent> {
  const scanner = new JsonRecordScanner();
  for await (const chunk of chunks) yield* scanner.push(chunk);
  yield* scanner.end();
}

type Phase = 'root' | 'objectKey' | 'objectColon' | 'objectValue' | 'skipValue' | 'array' | 'element' | 'done';

export class JsonRecordScanner {
  private buf = '';
  private pos = 0;
  /** Line of buf[pos]. */
  private line = 1;
  private phase: Phase = 'root';
  private expectComma = false;
  private value?: ValueScan;
  private ordinal = 0;
  private arrayLine = 0;
  private events: ReaderEvent[] = [];

  push(chunk: string): ReaderEvent[] {
    // A value being skipped (too long, or not a record) keeps none of its text, only the scan position.
    const keepFrom = this.value ? (this.value.isSkipping ? this.value.at : this.value.start) : this.pos;
    if (keepFrom > 0) {
      this.buf = this.buf.slice(keepFrom);
      this.pos -= keepFrom;
      this.value?.rebase(keepFrom);
    }
    this.buf += chunk;
    return this.run(false);
  }

  end(): ReaderEvent[] {
    this.run(true);
    const line = this.line;
    switch (this.phase) {
      case 'objectKey':
      case 'objectColon':
      case 'objectValue':
      case 'skipValue':
        this.events.push(parseError(line, 'the JSON object holds no array of records'));
        break;
      case 'array':
        this.events.push(parseError(line, `the file ends before the ] that closes the array opened at line ${this.arrayLine} (truncated JSON?)`));
        break;
      case 'element': {
        const start = this.value!.line;
        this.events.push(parseError(start, `the file ends inside the record that starts at line ${start} (truncated JSON?)`, ++this.ordinal));
        break;
      }
      default:
    }
    this.phase = 'done';
    return this.take();
  }

  private take(): ReaderEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  private run(final: boolean): ReaderEvent[] {
    const buf = this.buf;
    for (;;) {
      if (this.phase === 'done') {
        this.pos = buf.length;
        break;
      }
      if (this.phase === 'element' || this.phase === 'skipValue') {
        const value = this.value!;
        if (!value.scan(buf, final)) break;
        this.line = value.line + value.newlines;
        this.pos = value.end;
        this.value = undefined;
        if (this.phase === 'element' && value.isSkipping) {
          this.events.push(parseError(value.line, tooLongMessage('the record starting here', value.end - value.start), ++this.ordinal));
          this.phase = 'array';
          this.expectComma = true;
        } else if (this.phase === 'element') {
          this.emitRecord(buf.slice(value.start, value.end), value.line);
          this.phase = 'array';
          this.expectComma = true;
        } else {
          this.phase = 'objectKey';
        }
        continue;
      }
      this.skipWhitespace();
      if (this.pos >= buf.length) break;
      const c = buf[this.pos];
      if (this.phase === 'root') {
        if (c === '[') this.openArray();
        else if (c === '{') {
          this.phase = 'objectKey';
          this.pos++;
        } else this.fail(`expected a JSON array of records (or an object holding one), found ${JSON.stringify(c)}`);
      } else if (this.phase === 'objectKey') {
        if (c === ',') this.pos++;
        else if (c === '}') {
          this.events.push(parseError(this.line, 'the JSON object holds no array of records'));
          this.phase = 'done';
        } else if (c === '"') {
          const close = stringEnd(buf, this.pos + 1);
          if (close === -1) {
            if (final) this.fail('the file ends inside a JSON key');
            else if (buf.length - this.pos > MAX_LINE_CHARS) this.fail(`a JSON key longer than ${MAX_LINE_CHARS.toLocaleString('en')} characters`);
            else break;
            continue;
          }
          this.pos = close + 1;
          this.phase = 'objectColon';
        } else this.fail(`expected a key in the JSON object, found ${JSON.stringify(c)}`);
      } else if (this.phase === 'objectColon') {
        if (c === ':') {
          this.pos++;
          this.phase = 'objectValue';
        } else this.fail(`expected : after a key in the JSON object, found ${JSON.stringify(c)}`);
      } else if (this.phase === 'objectValue') {
        if (c === '[') this.openArray();
        else {
          this.value = new ValueScan(this.pos, this.line, c);
          this.value.isSkipping = true; // a member beside the records: only its end matters
          this.phase = 'skipValue';
        }
      } else if (this.phase === 'array') {
        if (c === ']') {
          this.pos++;
          this.phase = 'done';
        } else if (c === ',') {
          if (!this.expectComma) this.events.push(parseError(this.line, 'unexpected , in the array of records'));
          this.expectComma = false;
          this.pos++;
        } else if (c === '}') {
          this.events.push(parseError(this.line, 'unexpected } in the array of records'));
          this.pos++;
        } else {
          if (this.expectComma) this.events.push(parseError(this.line, 'missing , between records'));
          this.value = new ValueScan(this.pos, this.line, c);
          this.phase = 'element';
        }
      }
    }
    return this.take();
  }

  private openArray(): void {
    this.phase = 'array';
    this.arrayLine = this.line;
    this.expectComma = false;
    this.pos++;
  }

  private fail(message: string): void {
    this.events.push(parseError(this.line, message));
    this.phase = 'done';
  }

  private skipWhitespace(): void {
    const buf = this.buf;
    let pos = this.pos;
    while (pos < buf.length) {
      const c = buf.charCodeAt(pos);
      if (c === 10) this.line++;
      else if (c !== 32 && c !== 9 && c !== 13) break;
      pos++;
    }
    this.pos = pos;
  }

  private emitRecord(text: string, line: number): void {
    const ordinal = ++this.ordinal;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message;
      this.events.push(parseError(line + linesBeforeErrorPosition(text, message), `not valid JSON: ${message}`, ordinal));
      return;
    }
    const values = asRecord(value);
    if (!values) {
      this.events.push({ type: 'issue', issue: { kind: 'wrong_type', severity: 'error', line, ordinal, message: `expected a JSON object, found ${describeType(value)}` } });
      return;
    }
    this.events.push({ type: 'row', row: { ordinal, line, values } });
  }
}

/** What ends a run of plain characters inside a JSON string: a quote, a backslash, a newline (counted). */
const STRING_SPECIAL = /["\\\n]/g;

/** One JSON value being scanned for its end, resumable across chunks. */
class ValueScan {
  private depth = 0;
  private inString = false;
  private escaped = false;
  at: number;
  private readonly kind: 'container' | 'string' | 'primitive';
  newlines = 0;
  end = -1;
  /** Scanned for its end without keeping its text: longer than MAX_LINE_CHARS, or not needed. */
  isSkipping = false;

  constructor(
    public start: number,
    readonly line: number,
    first: string,
  ) {
    this.at = start;
    this.kind = first === '{' || first === '[' ? 'container' : first === '"' ? 'string' : 'primitive';
  }

  rebase(by: number): void {
    this.start -= by;
    this.at -= by;
  }

  /** True when the value's end was found (`end` is then one past its last character). */
  scan(buf: string, final: boolean): boolean {
    const n = buf.length;
    for (let i = this.at; i < n; i++) {
      const c = buf.charCodeAt(i);
      if (this.kind === 'primitive') {
        // , ] } or whitespace end a number/true/false/null (the terminator is not part of it).
        if (c === 44 || c === 93 || c === 125 || c === 32 || c === 9 || c === 10 || c === 13) {
          this.end = i;
          return true;
        }
        continue;
      }
      if (c === 10) this.newlines++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c !== 92 && c !== 34 && c !== 10) {
          // Jump over the plain run of string content natively (long text values dominate big files).
          STRING_SPECIAL.lastIndex = i;
          const next = STRING_SPECIAL.exec(buf);
          i = (next ? next.index : n) - 1;
        } else if (c === 92) this.escaped = true;
        else if (c === 34) {
          this.inString = false;
          if (this.kind === 'string') {
            this.end = i + 1;
            return true;
          }
        }
        continue;
      }
      if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) this.depth++;
      else if (c === 125 || c === 93) {
        this.depth--;
        if (this.depth === 0) {
          this.end = i + 1;
          return true;
        }
      }
    }
    this.at = n;
    if (n - this.start > MAX_LINE_CHARS) this.isSkipping = true;
    if (final && this.kind === 'primitive' && n > this.start) {
      this.end = n;
      return true;
    }
    return false;
  }
}

/** Index of the closing quote of a JSON string whose body starts at `from`, or -1. */
function stringEnd(buf: string, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const c = buf.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i;
  }
  return -1;
}

/** V8 reports "… at position N"; turn that into a line offset within the record. */
function linesBeforeErrorPosition(text: string, message: string): number {
  const m = /position (\d+)/.exec(message);
  if (!m) return 0;
  const upTo = Math.min(Number(m[1]), text.length);
  let lines = 0;
  for (let i = 0; i < upTo; i++) if (text.charCodeAt(i) === 10) lines++;
  return lines;
}
