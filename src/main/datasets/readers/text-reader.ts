// Plain text for language modelling: one example per line, or documents separated by blank lines
// (a line holding only spaces counts as blank).
import { parseError, type ReaderEvent } from './reader-events';
import { MAX_LINE_CHARS, splitLines, tooLongMessage } from './split-lines';

export type TextMode = 'lines' | 'documents';

export async function* readText(chunks: AsyncIterable<string>, mode: TextMode): AsyncGenerator<ReaderEvent> {
  let ordinal = 0;
  if (mode === 'lines') {
    for await (const { line, text, tooLongChars } of splitLines(chunks)) {
      if (tooLongChars !== undefined) {
        yield parseError(line, tooLongMessage('this line', tooLongChars), ++ordinal);
        continue;
      }
      if (text.trim() === '') continue;
      yield { type: 'row', row: { ordinal: ++ordinal, line, values: { text } } };
    }
    return;
  }
  let lines: string[] = [];
  let chars = 0;
  let startLine = 0;
  // A document over the limit (no blank lines at all?) is reported once and skipped to the next blank line.
  let isSkipping = false;
  const flush = (): ReaderEvent | null => {
    const event: ReaderEvent | null = isSkipping
      ? parseError(
          startLine,
          `a document of more than ${MAX_LINE_CHARS.toLocaleString('en')} characters (no blank line between documents?); skipped to the next blank line`,
          ++ordinal,
        )
      : lines.length > 0
        ? { type: 'row', row: { ordinal: ++ordinal, line: startLine, values: { text: lines.join('\n') } } }
        : null;
    lines = [];
    chars = 0;
    isSkipping = false;
    return event;
  };
  for await (const { line, text, tooLongChars } of splitLines(chunks)) {
    if (tooLongChars === undefined && text.trim() === '') {
      const event = flush();
      if (event) yield event;
      continue;
    }
    if (lines.length === 0 && !isSkipping) startLine = line;
    chars += (tooLongChars ?? text.length) + 1;
    if (tooLongChars !== undefined || chars > MAX_LINE_CHARS) {
      isSkipping = true;
      lines = [];
    } else if (!isSkipping) lines.push(text);
  }
  const event = flush();
  if (event) yield event;
}
