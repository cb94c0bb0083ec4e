// Does a delimited file start with a header row? Votes per column: a familiar column name, a name over
// numeric data, or a short name over long text say header; a first value that recurs below says data.

/** Column names common in public datasets (lower-case). */
export const KNOWN_COLUMN_NAMES = new Set([
  'text',
  'label',
  'labels',
  'sentence',
  'sentence1',
  'sentence2',
  'question',
  'question1',
  'question2',
  'answer',
  'premise',
  'hypothesis',
  'title',
  'description',
  'content',
  'review',
  'document',
  'passage',
  'context',
  'prompt',
  'completion',
  'response',
  'instruction',
  'input',
  'output',
  'target',
  'source',
  'src',
  'tgt',
  'mr',
  'ref',
  'reference',
  'idx',
  'id',
  'class',
  'category',
  'topic',
  'intent',
  'sentiment',
  'gold_label',
  'messages',
  'conversations',
  'story',
  'summary',
  'query',
  'score',
  'rating',
  'stars',
  'name',
]);

const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

export function isNumeric(value: string): boolean {
  return NUMERIC.test(value);
}

function looksLikeName(cell: string): boolean {
  const s = cell.trim();
  return s.length > 0 && s.length <= 64 && !isNumeric(s) && s.split(/\s+/).length <= 4 && !/[.?!]$/.test(s);
}

/** `records[0]` is the candidate header; the rest (up to ~50) are data to compare it with. */
export function detectHeader(records: string[][]): boolean {
  const first = records[0];
  if (!first || first.length === 0) return false;
  if (!first.every(looksLikeName)) return false;
  if (new Set(first.map((c) => c.trim().toLowerCase())).size !== first.length) return false;
  const data = records.slice(1);
  // Alone, a row of identifier-like names can only be a header (text,label), never an example.
  if (data.length === 0) return first.every((c) => /^[A-Za-z_][\w.-]*$/.test(c.trim()));
  let votes = 0;
  first.forEach((name, col) => {
    const cells = data.map((r) => r[col]).filter((c): c is string => c !== undefined);
    if (cells.length === 0) return;
    const key = name.trim().toLowerCase();
    if (KNOWN_COLUMN_NAMES.has(key)) votes += 2;
    if (cells.includes(name)) votes -= 2;
    const numericShare = cells.filter(isNumeric).length / cells.length;
    if (numericShare >= 0.8) votes += 1;
    const meanLength = cells.reduce((sum, c) => sum + c.length, 0) / cells.length;
    if (meanLength >= 3 * name.length && meanLength >= 12) votes += 1;
  });
  return votes > 0;
}

/** Distinct, non-empty names: blanks become columnN, repeats get _2, _3… */
export function uniqueColumnNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((raw, i) => {
    let name = raw.trim() || `column${i + 1}`;
    const count = seen.get(name) ?? 0;
    seen.set(name, count + 1);
    if (count > 0) name = `${name}_${count + 1}`;
    return name;
  });
}

export function positionalNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `column${i + 1}`);
}
