// The TREC question-classification format (Li & Roth 2002): `COARSE:fine question text` per line.
// Rows carry both labels: `coarse` (6 classes, the default label) and `fine` ("LOC:city", 50 classes;
// kept with its coarse prefix because fine names such as "other" recur under several coarse classes).
import { parseError, type ReaderEvent } from './reader-events';
import { splitLines, tooLongMessage } from './split-lines';

export const TREC_LINE = /^([A-Z]+):(\S+)\s+(.*)$/;

export async function* readTrec(chunks: AsyncIterable<string>): AsyncGenerator<ReaderEvent> {
  let ordinal = 0;
  yield { type: 'columns', columns: ['coarse', 'fine', 'text'], header: false };
  for await (const { line, text, tooLongChars } of splitLines(chunks)) {
    if (tooLongChars !== undefined) {
      yield parseError(line, tooLongMessage('this line', tooLongChars), ++ordinal);
      continue;
    }
    if (text.trim() === '') continue;
    ordinal++;
    const m = TREC_LINE.exec(text);
    if (!m) {
      yield parseError(line, 'expected "COARSE:fine question" (e.g. "LOC:city Where is …")', ordinal);
      continue;
    }
    yield { type: 'row', row: { ordinal, line, values: { coarse: m[1], fine: `${m[1]}:${m[2]}`, text: m[3] } } };
  }
}
