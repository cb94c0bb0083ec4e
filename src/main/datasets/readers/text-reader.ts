// Plain text for language modelling: one example per line, or documents separated by blank lines
// (a line holding only spaces counts as blank).
import type { ReaderEvent } from './reader-events';
import { splitLines } from './split-lines';

export type TextMode = 'lines' | 'documents';

export async function* readText(chunks: AsyncIterable<string>, mode: TextMode): AsyncGenerator<ReaderEvent> {
  let ordinal = 0;
  if (mode === 'lines') {
    for await (const { line, text } of splitLines(chunks)) {
      if (text.trim() === '') continue;
      yield { type: 'row', row: { ordinal: ++ordinal, line, values: { text } } };
    }
    return;
  }
  let lines: string[] = [];
  let startLine = 0;
  for await (const { line, text } of splitLines(chunks)) {
    if (text.trim() === '') {
      if (lines.length > 0) yield { type: 'row', row: { ordinal: ++ordinal, line: startLine, values: { text: lines.join('\n') } } };
      lines = [];
      continue;
    }
    if (lines.length === 0) startLine = line;
    lines.push(text);
  }
  if (lines.length > 0) yield { type: 'row', row: { ordinal: ++ordinal, line: startLine, values: { text: lines.join('\n') } } };
}
