// JSON Lines: one record per line; a bad line is reported and the next one read.
import { asRecord, describeType, parseError, type ReaderEvent } from './reader-events';
import { splitLines, tooLongMessage } from './split-lines';

export async function* readJsonl(chunks: AsyncIterable<string>): AsyncGenerator<ReaderEvent> {
  let ordinal = 0;
  for await (const { line, text, tooLongChars } of splitLines(chunks)) {
    if (tooLongChars !== undefined) {
      yield parseError(line, tooLongMessage('this line', tooLongChars), ++ordinal);
      continue;
    }
    if (text.trim() === '') continue;
    ordinal++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield parseError(line, `not valid JSON: ${(err as Error).message}`, ordinal);
      continue;
    }
    const values = asRecord(value);
    if (!values) {
      yield { type: 'issue', issue: { kind: 'wrong_type', severity: 'error', line, ordinal, message: `expected a JSON object, found ${describeType(value)}` } };
      continue;
    }
    yield { type: 'row', row: { ordinal, line, values } };
  }
}
