// Text chunks → numbered lines. Input is already newline-normalised (\n only).
export interface NumberedLine {
  line: number;
  text: string;
}

export async function* splitLines(chunks: AsyncIterable<string>): AsyncGenerator<NumberedLine> {
  let rest = '';
  let line = 0;
  for await (const chunk of chunks) {
    const text = rest + chunk;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) !== -1) {
      yield { line: ++line, text: text.slice(start, nl) };
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest) yield { line: ++line, text: rest };
}
