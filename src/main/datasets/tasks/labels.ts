// Raw label values → label names → the text each name becomes (the verbaliser). Numeric labels get names
// from `labelNames` or from a classes.txt beside the file (line N names label N, as in Zhang et al.'s
// AG News / DBpedia / Yelp releases). When any vocabulary is known, other labels are errors.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { IssueKind } from '@shared/contract/datasets';

export interface LabelOptions {
  /** Raw value → name, e.g. {"1": "World"}. */
  labelNames?: Record<string, string>;
  /** The allowed label names; others are unknown_label errors. */
  labels?: string[];
  /** Label name → the text the model is trained to produce. */
  verbalizer?: Record<string, string>;
}

export type LabelResult = { name: string } | { kind: IssueKind; message: string };

export class LabelResolver {
  private readonly names: Map<string, string>;
  private readonly vocabulary: Set<string> | null;
  /** One flat copy per distinct label: a label sliced from a 1 MiB read chunk would keep the chunk alive. */
  private readonly interned = new Map<string, string>();
  private readonly verbalizer: Record<string, string>;

  constructor(
    opts: LabelOptions,
    /** Where automatic names came from, for messages. */
    private readonly namesSource?: string,
  ) {
    this.names = new Map(Object.entries(opts.labelNames ?? {}));
    this.verbalizer = opts.verbalizer ?? {};
    const vocabulary = [...this.names.values(), ...(opts.labels ?? []), ...Object.keys(this.verbalizer)];
    this.vocabulary = vocabulary.length > 0 ? new Set(vocabulary) : null;
  }

  resolve(raw: unknown): LabelResult {
    if (raw === undefined || raw === null) return { kind: 'missing_field', message: 'no label' };
    if (typeof raw === 'object') return { kind: 'wrong_type', message: `a label must be a string or a number, found ${Array.isArray(raw) ? 'an array' : 'an object'}` };
    const key = String(raw).trim();
    if (key === '') return { kind: 'missing_field', message: 'the label is empty' };
    const named = this.names.get(key);
    if (named !== undefined) return { name: named };
    if (this.vocabulary && !this.vocabulary.has(key)) {
      const known = [...this.vocabulary].slice(0, 20).join(', ');
      const from = this.namesSource ? ` (names from ${this.namesSource})` : '';
      return { kind: 'unknown_label', message: `unknown label ${JSON.stringify(key)}; known labels: ${known}${from}` };
    }
    let name = this.interned.get(key);
    if (name === undefined) {
      name = Buffer.from(key, 'utf8').toString('utf8');
      this.interned.set(name, name);
    }
    return { name };
  }

  /** The text a label is trained as (its name unless the verbaliser says otherwise). */
  verbalise(name: string): string {
    return this.verbalizer[name] ?? name;
  }
}

/** Names from `classes.txt` beside `datasetPath`: {"1": first line, "2": second, …}; undefined if none. */
export async function labelNamesBeside(datasetPath: string): Promise<{ names: Record<string, string>; file: string } | undefined> {
  return readLabelNamesFile(join(dirname(datasetPath), 'classes.txt')).catch(() => undefined);
}

/** One label name per line; line N names label N. Rejects when the file cannot be read or is empty. */
export async function readLabelNamesFile(file: string): Promise<{ names: Record<string, string>; file: string }> {
  const lines = (await readFile(file, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) throw new Error(`${file} names no labels`);
  return { names: Object.fromEntries(lines.map((name, i) => [String(i + 1), name])), file };
}
