// One raw row + the task's mapping → the role values a template reads, or every problem with the row
// (missing field, wrong type, empty text, unknown label), each naming the column at fault.
import { ROLES_BY_TASK, type FieldMapping, type IssueKind, type TaskKind } from '@shared/contract/datasets';
import type { RawRow } from '../readers/reader-events';
import { parseMessages, type ChatMessage } from './chat-format';
import type { LabelResolver } from './labels';

export interface NormalisedRecord {
  ordinal: number;
  line: number;
  values: Record<string, unknown>;
  /** Role → text (label: the label name). */
  roles: Record<string, string>;
  messages?: ChatMessage[];
  label?: string;
  /** GSM8K-style: the text after the last `####` of the target. */
  finalAnswer?: string;
}

export interface RecordProblem {
  kind: IssueKind;
  field: string;
  message: string;
}

export type NormaliseResult = { record: NormalisedRecord; problems?: undefined } | { record?: undefined; problems: RecordProblem[] };

export function normaliseRecord(row: RawRow, task: TaskKind, mapping: FieldMapping, labels: LabelResolver): NormaliseResult {
  const problems: RecordProblem[] = [];
  const roles: Record<string, string> = {};
  const record: NormalisedRecord = { ordinal: row.ordinal, line: row.line, values: row.values, roles };
  const { required, optional } = ROLES_BY_TASK[task];
  for (const role of [...required, ...optional]) {
    const column = mapping[role];
    if (!column) continue;
    const isRequired = (required as readonly string[]).includes(role);
    const value = row.values[column];
    if (value === undefined || value === null) {
      if (isRequired) problems.push({ kind: 'missing_field', field: column, message: value === null ? `${column} is null` : `no value for ${column}` });
      continue;
    }
    if (role === 'label') {
      const label = labels.resolve(value);
      if ('name' in label) {
        roles.label = label.name;
        record.label = label.name;
      } else problems.push({ kind: label.kind, field: column, message: label.message });
      continue;
    }
    if (role === 'messages') {
      const parsed = parseMessages(value);
      if ('messages' in parsed) record.messages = parsed.messages;
      else problems.push({ kind: parsed.kind, field: column, message: parsed.problem });
      continue;
    }
    if (typeof value === 'object') {
      problems.push({ kind: 'wrong_type', field: column, message: `${column} should be text, found ${Array.isArray(value) ? 'an array' : 'an object'}` });
      continue;
    }
    // Numbers and booleans have one obvious text form (numeric answers are common); keep them.
    const text = String(value);
    if (isRequired && text.trim() === '') {
      problems.push({ kind: 'empty_text', field: column, message: `${column} is empty` });
      continue;
    }
    roles[role] = text;
  }
  if (problems.length > 0) return { problems };
  const answer = roles.completion ?? roles.output;
  if (answer !== undefined) {
    const marker = answer.lastIndexOf('####');
    if (marker !== -1) record.finalAnswer = answer.slice(marker + 4).trim();
  }
  return { record };
}
