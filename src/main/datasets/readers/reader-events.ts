// What every reader yields: records with their position, or problems found while parsing them.
import type { IssueKind } from '@shared/contract/datasets';

export interface RawRow {
  /** 1-based position of the record in the file; ids derive from it so they are stable across runs. */
  ordinal: number;
  /** 1-based line where the record starts (Parquet: 1-based row). */
  line: number;
  values: Record<string, unknown>;
}

export interface ReaderIssue {
  kind: IssueKind;
  severity: 'error' | 'warning';
  line?: number;
  field?: string;
  message: string;
  /** Set when the problem makes a record unusable: the record still counts, under this ordinal. */
  ordinal?: number;
}

export type ReaderEvent =
  | { type: 'row'; row: RawRow }
  | { type: 'issue'; issue: ReaderIssue }
  /** Column names, once known (before the first row of a delimited file). */
  | { type: 'columns'; columns: string[]; header: boolean };

export function parseError(line: number, message: string, ordinal?: number, field?: string): ReaderEvent {
  return { type: 'issue', issue: { kind: 'unparseable', severity: 'error', line, message, ordinal, field } };
}

/** A JSON value as a record: objects as they are, a bare string as {text}; anything else is not a record. */
export function asRecord(value: unknown): Record<string, unknown> | null {
  if (typeof value === 'string') return { text: value };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  return null;
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
