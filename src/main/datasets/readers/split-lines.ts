// Text chunks → numbered lines. Input is already newline-normalised (\n only). Memory stays bounded whatever
// the file holds: a line longer than MAX_LINE_CHARS is not kept but reported (tooLongChars) and skipped.

/** Longest line (and JSON record, text document) read, in characters: 32 Mi, far above any real example. */
export const MAX_LINE_CHARS = 32 * 2 ** 20;

export interface NumberedLine {
  line: number;
  text: string;
  /** Set (and text empty) when the line was longer than the limit: its length in characters. */
  tooLongChars?: number;
}

/** "line 3 has 1,073,741,824 characters …" for readers to report a skipped line. */
export function tooLongMessage(what: string, chars: number, limit = MAX_LINE_CHARS): string {
  return `${what} has ${chars.toLocaleString('en')} characters, more than the ${limit.toLocaleString('en')} read per record; skipped (a missing newline?)`;
}

export async function* splitLines(chunks: AsyncIterable<string>, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<NumberedLine> {
  // The unfinished line is kept as pieces, joined once when its newline arrives: appending to one string and
  // searching it again after every chunk would be quadratic in the line's length.
  let pending: string[] = [];
  let pendingChars = 0;
  let isSkipping = false;
  let line = 0;
  const finish = (last: string): NumberedLine => {
    const chars = pendingChars + last.length;
    const out: NumberedLine =
      isSkipping || chars > maxLineChars ? { line: ++line, text: '', tooLongChars: chars } : { line: ++line, text: pending.length ? pending.join('') + last : last };
    pending = [];
    pendingChars = 0;
    isSkipping = false;
    return out;
  };
  for await (const chunk of chunks) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', start)) !== -1) {
      yield finish(chunk.slice(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.slice(start);
      pendingChars += rest.length;
      if (!isSkipping) {
        if (pendingChars > maxLineChars) {
          isSkipping = true;
          pending = [];
        } else pending.push(rest);
      }
    }
  }
  if (pendingChars > 0) yield finish('');
}
