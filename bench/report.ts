// Prints a benchmark table and writes its rows as JSON; the median the benches report.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function printTable(rows: Record<string, unknown>[], columns: { key: string; label: string; format?: (v: unknown) => string }[]): void {
  const cells = rows.map((row) => columns.map((c) => (c.format ? c.format(row[c.key]) : String(row[c.key] ?? '—'))));
  const widths = columns.map((c, i) => Math.max(c.label.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i]!)).join('  ');
  console.log(line(columns.map((c) => c.label)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  console.log(`\nwrote ${path}`);
}

/** The upper median (the middle value of an odd count, the later of the two middle ones of an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const fmt = {
  num: (digits: number) => (v: unknown) => (typeof v === 'number' ? v.toFixed(digits) : '—'),
  mib: (v: unknown) => (typeof v === 'number' ? `${(v / 2 ** 20).toFixed(1)} MiB` : '—'),
  int: (v: unknown) => (typeof v === 'number' ? Math.round(v).toLocaleString('en-US') : '—'),
};
