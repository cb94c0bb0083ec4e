// Collects problems without stopping at the first: keeps the first N of each severity in file order and
// counts every one by kind, so a million bad rows cost a counter, not a million objects.
import type { DatasetIssue, IssueKind } from '@shared/contract/datasets';

export const MAX_REPORTED_ISSUES = 100;

export class IssueCollector {
  readonly errors: DatasetIssue[] = [];
  readonly warnings: DatasetIssue[] = [];
  readonly errorCounts: Partial<Record<IssueKind, number>> = {};
  readonly warningCounts: Partial<Record<IssueKind, number>> = {};

  constructor(private readonly max = MAX_REPORTED_ISSUES) {}

  add(issue: DatasetIssue): void {
    const isError = issue.severity === 'error';
    const counts = isError ? this.errorCounts : this.warningCounts;
    counts[issue.kind] = (counts[issue.kind] ?? 0) + 1;
    const list = isError ? this.errors : this.warnings;
    if (list.length < this.max) list.push(issue);
  }

  error(kind: IssueKind, file: string, message: string, where: { line?: number; field?: string } = {}): void {
    this.add(withWhere({ kind, severity: 'error', file, message }, where));
  }

  warning(kind: IssueKind, file: string, message: string, where: { line?: number; field?: string } = {}): void {
    this.add(withWhere({ kind, severity: 'warning', file, message }, where));
  }

  get errorTotal(): number {
    return Object.values(this.errorCounts).reduce((a, b) => a + (b ?? 0), 0);
  }

  /** Problems found after the pass (splits, overlaps) sort into file order with the rest. */
  sort(): void {
    const byLine = (a: DatasetIssue, b: DatasetIssue): number => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : 0);
    this.errors.sort(byLine);
    this.warnings.sort(byLine);
  }
}

function withWhere(issue: DatasetIssue, where: { line?: number; field?: string }): DatasetIssue {
  if (where.line !== undefined) issue.line = where.line;
  if (where.field !== undefined) issue.field = where.field;
  return issue;
}
