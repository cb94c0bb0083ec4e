// Which task a file holds and which column fills each role, from column names first (the names public
// datasets use), then from the values (header-less files): a short column with few distinct values is a
// label, long strings are text. An explicit task or mapping always wins; detection fills only the gaps.
import { ROLES_BY_TASK, type FieldMapping, type TaskKind } from '@shared/contract/datasets';

const ROLE_NAMES: Record<string, readonly string[]> = {
  messages: ['messages', 'conversations', 'conversation', 'dialog', 'dialogue', 'chat'],
  instruction: ['instruction', 'instructions'],
  input: ['input', 'context'],
  output: ['output', 'response', 'answer', 'completion'],
  prompt: ['prompt', 'question', 'query', 'source', 'src', 'mr', 'input', 'context'],
  completion: ['completion', 'answer', 'response', 'target', 'tgt', 'ref', 'reference', 'output', 'summary'],
  label: ['label', 'labels', 'class', 'category', 'coarse', 'intent', 'sentiment', 'topic', 'gold_label'],
  text: ['text', 'sentence', 'sentence1', 'premise', 'question1', 'question', 'content', 'review', 'document', 'description', 'title', 'passage', 'story', 'body'],
  text2: ['sentence2', 'hypothesis', 'question2'],
};

const ID_LIKE = /^(idx|id|index|guid|uid|key|row|unnamed: ?0)$/i;

export interface TaskDetectionInput {
  columns: string[];
  /** The first rows (a few hundred at most). */
  sample: Record<string, unknown>[];
  task?: TaskKind;
  map?: FieldMapping;
}

export type TaskDetection = { task: TaskKind; mapping: FieldMapping } | { problem: string };

interface ColumnStats {
  name: string;
  stringShare: number;
  meanLength: number;
  distinct: number;
  /** distinct / rows with a value: low for labels, high for free text. */
  distinctRatio: number;
  isMessages: boolean;
}

export function detectTask(input: TaskDetectionInput): TaskDetection {
  const stats = input.columns.map((c) => columnStats(c, input.sample));
  const byName = (role: string, exclude: Set<string>): string | undefined => {
    for (const synonym of ROLE_NAMES[role] ?? []) {
      const hit = input.columns.find((c) => c.toLowerCase() === synonym && !exclude.has(c));
      if (hit) return hit;
    }
    return undefined;
  };
  const map = { ...(input.map ?? {}) };
  const task = input.task ?? guessTask(map, stats, byName);
  if (!task) return { problem: `cannot tell the task from the columns (${listColumns(input.columns)}); pass a task and a mapping such as text=COLUMN,label=COLUMN` };
  const { required, optional } = ROLES_BY_TASK[task];
  const used = new Set(Object.values(map));
  let textByContent = false;
  for (const role of [...required, ...optional]) {
    if (map[role]) continue;
    let column = byName(role, used);
    if (!column && required.includes(role as never)) {
      column = byContent(role, task, stats, used);
      if (role === 'text') textByContent = Boolean(column);
    }
    if (column) {
      map[role] = column;
      used.add(column);
    }
  }
  if (task === 'classification' && textByContent && !map.text2) pairTextColumns(map, stats, used, input.columns);
  const missing = required.filter((r) => !map[r]);
  if (missing.length > 0) {
    return { problem: `no column for ${missing.join(', ')} of a ${task} dataset (columns: ${listColumns(input.columns)}); pass a mapping such as ${missing[0]}=COLUMN` };
  }
  const mapping: FieldMapping = {};
  for (const role of [...required, ...optional]) if (map[role]) mapping[role] = map[role];
  return { task, mapping };
}

function guessTask(map: FieldMapping, stats: ColumnStats[], byName: (role: string, exclude: Set<string>) => string | undefined): TaskKind | undefined {
  const none = new Set<string>();
  const has = (role: string): boolean => Boolean(map[role] ?? byName(role, none));
  if (has('messages') || stats.some((s) => s.isMessages)) return 'chat';
  if (has('instruction') && has('output')) return 'instruction';
  if (map.label || byName('label', none)) return 'classification';
  if (map.prompt || map.completion) return 'completion';
  const prompt = byName('prompt', none);
  if (prompt && byName('completion', new Set([prompt]))) return 'completion';
  if (map.text) return 'text';
  // No telling names: judge by the values.
  const texts = stats.filter((s) => s.stringShare >= 0.9 && !ID_LIKE.test(s.name));
  if (labelCandidate(stats, new Set()) && texts.length >= 2) return 'classification';
  if (texts.length === 1) return 'text';
  if (texts.length === 2) return 'completion';
  if (byName('text', none)) return 'text';
  return undefined;
}

function byContent(role: string, task: TaskKind, stats: ColumnStats[], used: Set<string>): string | undefined {
  const free = stats.filter((s) => !used.has(s.name) && !ID_LIKE.test(s.name));
  if (role === 'label') return labelCandidate(free, used)?.name;
  if (role === 'messages') return free.find((s) => s.isMessages)?.name;
  const strings = free.filter((s) => s.stringShare >= 0.9);
  if (task === 'classification') {
    // The label takes the short categorical column; the text is the longest remaining one.
    const label = labelCandidate(free, used);
    const texts = strings.filter((s) => s !== label);
    return texts.sort((a, b) => b.meanLength - a.meanLength)[0]?.name;
  }
  // Completion/instruction/text: columns in file order (prompt before completion).
  return strings[0]?.name;
}

/**
 * Header-less classification files often carry two text columns (AG News: title, description): use both,
 * in file order, as text and text2.
 */
function pairTextColumns(map: FieldMapping, stats: ColumnStats[], used: Set<string>, columns: string[]): void {
  const other = stats.filter((s) => !used.has(s.name) && !ID_LIKE.test(s.name) && s.stringShare >= 0.9 && s.meanLength >= 8 && s.distinctRatio > 0.2);
  if (other.length === 0) return;
  const [first, second] = [map.text, other[0].name].sort((a, b) => columns.indexOf(a) - columns.indexOf(b));
  map.text = first;
  map.text2 = second;
}

/** A column of short values with few distinct ones (the sample must be big enough to tell). */
function labelCandidate(stats: ColumnStats[], used: Set<string>): ColumnStats | undefined {
  return stats.find((s) => !used.has(s.name) && !ID_LIKE.test(s.name) && s.meanLength > 0 && s.meanLength <= 24 && s.distinct >= 2 && s.distinct <= 100 && s.distinctRatio <= 0.2);
}

function columnStats(name: string, sample: Record<string, unknown>[]): ColumnStats {
  let strings = 0;
  let present = 0;
  let totalLength = 0;
  let messages = 0;
  const distinct = new Set<string>();
  for (const row of sample) {
    const value = row[name];
    if (value === undefined || value === null) continue;
    present++;
    if (Array.isArray(value)) {
      if (value.length > 0 && value.every((m) => m && typeof m === 'object' && ('role' in m || 'from' in m))) messages++;
      continue;
    }
    if (typeof value === 'object') continue;
    const text = String(value);
    if (typeof value === 'string') strings++;
    totalLength += text.length;
    if (distinct.size <= 1000) distinct.add(text);
  }
  const n = Math.max(present, 1);
  return {
    name,
    stringShare: strings / n,
    meanLength: totalLength / n,
    distinct: distinct.size,
    distinctRatio: distinct.size / n,
    isMessages: messages > 0 && messages >= 0.9 * present,
  };
}

/** Column names for a message: the first dozen (each cut to 40 characters), then how many more. */
export function listColumns(columns: readonly string[], max = 12): string {
  if (columns.length === 0) return 'none';
  const shown = columns.slice(0, max).map((c) => (c.length > 40 ? `${c.slice(0, 40)}…` : c));
  return columns.length > max ? `${shown.join(', ')} and ${(columns.length - max).toLocaleString('en')} more` : shown.join(', ');
}
