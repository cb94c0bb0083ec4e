// Refuses tokenizer.json regexes that can backtrack exponentially (ReDoS). @huggingface/tokenizers runs the
// `Regex` patterns of normalizers, pre-tokenizers and decoders as JavaScript RegExps on every text, even on
// added tokens while the tokenizer is built, so a pattern like `(a+)+$` pins a core forever. Patterns are
// checked before the library sees the file, as the library compiles them (its Oniguruma → JS rewrite), by
// two well-kept analysers: scslre (fast static analysis that understands lookarounds) and recheck's automaton
// checker (exact for ambiguous alternations like `(a|a)*`, within a time budget).
import { ReplaceNormalizer } from '@huggingface/tokenizers';
import { checkSync } from 'recheck';
import { analyse } from 'scslre';
import { ApiError } from '@shared/errors';

/** recheck's budget per pattern; a pattern it cannot decide in time is left to scslre's verdict. */
const RECHECK_TIMEOUT_MS = 1500;
/** Longer patterns are refused outright: real ones are a few hundred characters. */
export const MAX_PATTERN_CHARS = 4096;
/** How deep tokenizer.json is searched for patterns (real files nest Sequence in Sequence at most twice). */
const MAX_DEPTH = 16;

const verdicts = new Map<string, string | null>();

/** The `pattern.Regex` strings of tokenizer.json's normalizer, pre_tokenizer and decoder, with their JSON path. */
export function regexPatterns(tokenizerJson: object): { field: string; pattern: string }[] {
  const found: { field: string; pattern: string }[] = [];
  const walk = (node: unknown, path: string, depth: number): void => {
    if (!node || typeof node !== 'object' || depth > MAX_DEPTH) return;
    if (Array.isArray(node)) return node.forEach((item, i) => walk(item, `${path}.${i}`, depth + 1));
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Regex' && typeof value === 'string') found.push({ field: `${path}.Regex`, pattern: value });
      else walk(value, `${path}.${key}`, depth + 1);
    }
  };
  for (const part of ['normalizer', 'pre_tokenizer', 'decoder'] as const) walk((tokenizerJson as Record<string, unknown>)[part], part, 0);
  return found;
}

/** Why `pattern` (a tokenizer.json Regex) is unsafe to run on untrusted text, or null when it is fine. */
export function regexProblem(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN_CHARS) return `is ${pattern.length} characters long (at most ${MAX_PATTERN_CHARS})`;
  const cached = verdicts.get(pattern);
  if (cached !== undefined) return cached;
  let compiled: RegExp | null;
  try {
    // The library's own compilation, so the checked RegExp is the one that would run.
    compiled = (new ReplaceNormalizer({ type: 'Replace', pattern: { Regex: pattern }, content: '' }) as unknown as { pattern: RegExp | null }).pattern;
  } catch (err) {
    return `is not a valid regular expression (${(err as Error).message.slice(0, 120)})`;
  }
  // The library rewrites Oniguruma anchors such as `$` into lookarounds, which recheck's automaton checker
  // does not model; the pattern as written is checked too (same repetition structure, no lookarounds).
  const verdict = compiled ? (judge(compiled.source, compiled.flags) ?? automatonVerdict(pattern, compiled.flags)) : null;
  verdicts.set(pattern, verdict);
  return verdict;
}

function judge(source: string, flags: string): string | null {
  try {
    if (analyse({ source, flags }, { reportTypes: { Move: false } }).reports.some((r) => r.exponential)) {
      return 'can take exponential time on some inputs (nested or overlapping repetition)';
    }
  } catch (err) {
    return `cannot be analysed (${(err as Error).message.slice(0, 120)})`;
  }
  return automatonVerdict(source, flags);
}

function automatonVerdict(source: string, flags: string): string | null {
  // recheck runs its analysis in-process only with the pure backend (else it spawns a helper process).
  const previous = process.env.RECHECK_SYNC_BACKEND;
  process.env.RECHECK_SYNC_BACKEND = 'pure';
  try {
    const diagnostics = checkSync(source, flags, { checker: 'automaton', timeout: RECHECK_TIMEOUT_MS });
    if (diagnostics.status === 'vulnerable' && diagnostics.complexity.type === 'exponential') {
      return 'can take exponential time on some inputs (ambiguous repetition)';
    }
  } catch {
    // Not parseable by recheck (an Oniguruma-only construct): scslre's verdict on the compiled form stands.
  } finally {
    if (previous === undefined) delete process.env.RECHECK_SYNC_BACKEND;
    else process.env.RECHECK_SYNC_BACKEND = previous;
  }
  return null;
}

/** Throws ApiError bad_file naming tokenizer.json and the field of the first unsafe pattern. */
export function checkTokenizerRegexes(tokenizerJson: object, file: string): void {
  for (const { field, pattern } of regexPatterns(tokenizerJson)) {
    const problem = regexProblem(pattern);
    if (problem) {
      const shown = JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern);
      throw new ApiError('bad_file', `the ${field.split('.')[0]} regex ${shown} ${problem}; refusing to run it`, { file, field });
    }
  }
}
