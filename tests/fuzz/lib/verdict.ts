// What counts as a crash: any exception that is not our ApiError with a clear message. A clear message is
// one line a person can act on (no JS engine internals), not too long, and says where (file/line/field)
// when the target reads a file or a named argument.
import { ApiError } from '@shared/errors';

export interface ClarityRules {
  /** The error must name the file it is about (parsers of user files). */
  needsFile?: boolean;
  /** The error must name the argument at fault (API validation). */
  needsField?: boolean;
}

/** A case that broke the rules: fast-check reports it as the counterexample. */
export class CaseFailure extends Error {
  constructor(
    readonly kind: 'crash' | 'hang',
    message: string,
  ) {
    super(`${kind}: ${message}`);
    this.name = 'CaseFailure';
  }
}

/** Raw engine/runtime messages that leak through when code did not check its input. */
const ENGINE_PATTERNS = [
  /Cannot read propert/i,
  /Cannot set propert/i,
  /is not a function/i,
  /is not iterable/i,
  /is not an object/i,
  /is not defined/i,
  /undefined is not/i,
  /Maximum call stack/i,
  /Invalid array length/i,
  /Invalid typed array length/i,
  /Invalid string length/i,
  /Cannot create a string longer/i,
  /Array buffer allocation failed/i,
  /\[object Object\]/,
  /out of memory/i,
  /^\s*$/,
];

export const MAX_MESSAGE_CHARS = 1000;

/** Why `message` is not clear, or null when it is. */
export function unclearReason(message: string): string | null {
  if (typeof message !== 'string' || message.trim() === '') return 'empty message';
  if (message.length > MAX_MESSAGE_CHARS) return `message of ${message.length} characters (more than ${MAX_MESSAGE_CHARS})`;
  for (const pattern of ENGINE_PATTERNS) if (pattern.test(message)) return `engine message leaked (${pattern.source})`;
  return null;
}

/** The rejection code when `err` is a clear ApiError; throws CaseFailure('crash') otherwise. */
export function judgeError(err: unknown, rules: ClarityRules = {}): string {
  if (err instanceof CaseFailure) throw err;
  if (!(err instanceof ApiError)) {
    const name = err instanceof Error ? err.constructor.name : typeof err;
    const message = err instanceof Error ? err.message : String(err);
    throw new CaseFailure('crash', `${name} (not an ApiError): ${message.slice(0, 300)}`);
  }
  if (err.code === 'internal') throw new CaseFailure('crash', `ApiError 'internal': ${err.message.slice(0, 300)}`);
  const unclear = unclearReason(err.message);
  if (unclear) throw new CaseFailure('crash', `unclear ${err.code} message: ${unclear}: ${err.message.slice(0, 300)}`);
  if (rules.needsFile && !err.file) throw new CaseFailure('crash', `${err.code} error names no file: ${err.message}`);
  if (rules.needsField && !err.field) throw new CaseFailure('crash', `${err.code} error names no field: ${err.message}`);
  return err.code;
}

/** What both transports do with a result: JSON (WebSocket) and structured clone (Electron IPC). */
export function assertSendable(value: unknown, what: string): void {
  try {
    JSON.stringify(value);
    structuredClone(value);
  } catch (err) {
    throw new CaseFailure('crash', `${what} cannot be sent to the window: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** JSON-like text of any value without recursion (for comparing values nested deeper than the stack). */
export function flatSerialize(root: unknown): string {
  const out: string[] = [];
  const stack: unknown[] = [root];
  const CLOSE = Symbol('close');
  while (stack.length) {
    const item = stack.pop();
    if (typeof item === 'object' && item !== null && (item as { [CLOSE]?: string })[CLOSE] !== undefined) {
      out.push((item as { [CLOSE]: string })[CLOSE]);
      continue;
    }
    if (Array.isArray(item)) {
      out.push('[');
      stack.push({ [CLOSE]: ']' });
      for (let i = item.length - 1; i >= 0; i--) stack.push(item[i], { [CLOSE]: ',' });
    } else if (item && typeof item === 'object') {
      out.push('{');
      stack.push({ [CLOSE]: '}' });
      const entries = Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i][1], { [CLOSE]: `${JSON.stringify(entries[i][0])}:` }, { [CLOSE]: ',' });
    } else out.push(item === undefined ? 'undefined' : typeof item === 'bigint' ? `${item}n` : JSON.stringify(item));
  }
  return out.join('');
}
