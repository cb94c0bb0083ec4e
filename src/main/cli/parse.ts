// Small, strict parsers for CLI option values: each failure names the flag.
import { ApiError } from '@shared/errors';

export function requireString(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new ApiError('invalid_argument', 'is required', { field: flag });
  return value;
}

export function parseIntFlag(value: unknown, flag: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new ApiError('invalid_argument', `expected an integer ${min}…${max === Number.MAX_SAFE_INTEGER ? '' : max}, got "${value}"`, { field: flag });
  }
  return n;
}

export function parseFloatFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) throw new ApiError('invalid_argument', `expected a number, got "${value}"`, { field: flag });
  return n;
}

/** "1,2,3" → [1, 2, 3]. */
export function parseIdList(value: unknown, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const ids = parts.map(Number);
  const bad = parts.find((p, i) => !Number.isInteger(ids[i]) || ids[i]! < 0);
  if (parts.length === 0 || bad !== undefined) throw new ApiError('invalid_argument', `expected comma-separated token ids, got "${bad ?? value}"`, { field: flag });
  return ids;
}

/** "a,b,c" → ['a', 'b', 'c']. */
export function parseList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Repeated `--set key=value` → {key: value}. */
export function parseSetFlags(values: unknown, flag = '--set'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (values as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ApiError('invalid_argument', `expected key=value, got "${item}"`, { field: flag });
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}
