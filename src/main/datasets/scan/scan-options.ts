// Options of a dataset pass (inspect, import, loadExamples share them).
import type { DatasetFormat, FieldMapping, PromptTemplate, SplitOptions, TaskKind, TruncationRule } from '@shared/contract/datasets';
import type { TextMode } from '../readers/text-reader';
import type { DatasetTokenizer } from '../stats/tokenize-example';
import type { ChatFormatOptions } from '../tasks/chat-format';
import type { LabelOptions } from '../tasks/labels';

export interface ScanProgress {
  phase: 'read';
  bytesRead: number;
  totalBytes: number;
  /** Records so far. */
  rows: number;
}

export interface ScanOptions extends LabelOptions, ChatFormatOptions {
  task?: TaskKind;
  /** role → column, e.g. {text: 'sentence', label: 'label'}; detection fills the roles left out. */
  map?: FieldMapping;
  template?: PromptTemplate;
  format?: DatasetFormat;
  /** Force header / no header for CSV and TSV. */
  header?: boolean;
  textMode?: TextMode;
  /** A file naming numeric labels (one name per line, line N = label N); false turns off classes.txt discovery. */
  labelNamesFile?: string | false;
  tokenizer?: DatasetTokenizer;
  /** With a tokenizer: examples longer than this are reported (warnings) and cut by `truncation`. */
  contextLength?: number;
  truncation?: TruncationRule;
  /** The split that will be made: classes too small for it are errors. */
  split?: SplitOptions;
  /** A separate eval file: its examples that repeat one of this file are train_eval_overlap errors. */
  evalFile?: string;
  /** Duplicate examples: warnings (default), errors, or not reported. */
  duplicates?: 'warn' | 'error' | 'ignore';
  /** Rows in `preview` (default 5). */
  previewRows?: number;
  /** Stop after this many records (a quick preview; the result says complete: false). */
  limitRows?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ScanProgress) => void;
}
