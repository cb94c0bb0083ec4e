// The table of `bench train --engine torch,tfjs` JSON (engine-bench.ts) for docs/performance.md: one line per
// shape × T × method with our engine's and the torch engine's step time and tokens/s, and ours ÷ torch's.
type Row = Record<string, unknown>;

const n = (value: unknown, digits = 0): string =>
  typeof value === 'number' && Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—';

/** Whether a benchmark JSON's rows are the engine comparison's. */
export const isEngineRow = (r: Row): boolean => r.engine === 'tfjs' || r.engine === 'torch';

export function engineTable(rows: Row[]): string {
  const key = (r: Row) => `${String(r.shape)}\u0000${String(r.seqLen)}\u0000${String(r.method)}`;
  const groups = new Map<string, { tfjs?: Row; torch?: Row }>();
  for (const r of rows) {
    const g = groups.get(key(r)) ?? {};
    g[r.engine as 'tfjs' | 'torch'] = r;
    groups.set(key(r), g);
  }
  const header = ['shape', 'T', 'method', 'threads', 'tfjs backend', 'tfjs ms/step', 'tfjs tok/s', 'torch engine', 'torch ms/step', 'torch tok/s', 'tfjs ÷ torch (tok/s)'];
  const lines = [...groups.values()].map(({ tfjs, torch }) => {
    const any = (tfjs ?? torch)!;
    const ratio = tfjs && torch ? `**${n((tfjs.tokensPerSecond as number) / (torch.tokensPerSecond as number), 2)}**` : '—';
    return [
      String(any.shape),
      String(any.seqLen),
      String(any.method),
      String(any.threads ?? '—'),
      tfjs ? String(tfjs.backend) : '—',
      n(tfjs?.msPerStep, 1),
      n(tfjs?.tokensPerSecond),
      torch ? String(torch.backend) : '—',
      n(torch?.msPerStep, 1),
      n(torch?.tokensPerSecond),
      ratio,
    ];
  });
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
}
