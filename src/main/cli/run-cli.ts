// Parses argv, finds the subcommand, runs it, prints one JSON document (--json) or text, and maps
// errors to one line on stderr with a non-zero exit code.
import { parseArgs } from 'node:util';
import { formatApiError } from '@shared/errors';
import { toErrorData } from '../platform/system-errors';
import { GLOBAL_OPTIONS, type CliIO, type Command } from './command';
import { COMMANDS } from './commands';
import { closest } from './suggest';

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const two = COMMANDS.find((c) => c.name === `${argv[0]} ${argv[1]}`);
  if (two) return { command: two, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === argv[0]);
  return one ? { command: one, rest: argv.slice(1) } : undefined;
}

/**
 * Why argv names no command, in one line: the word that is not one (never the arguments after it), the
 * closest command when there is one, and the list of commands.
 */
export function unknownCommandMessage(argv: string[]): string {
  const names = COMMANDS.map((c) => c.name);
  const list = `commands: ${names.join(', ')} (prefixlab --help)`;
  const [first = '', second] = argv;
  if (first.startsWith('-')) return `expected a command before the options, got "${first}"; ${list}`;
  // A group word ("model", "data", "runs", "adapters") with a missing or mistyped second word.
  const group = names.filter((n) => n.startsWith(`${first} `));
  if (group.length > 0) {
    if (second === undefined || second.startsWith('-')) return `"${first}" needs one of: ${group.join(', ')}`;
    const guess = closest(`${first} ${second}`, group);
    return `unknown command "${first} ${second}"${guess ? `; did you mean "${guess}"?` : ''} (${first} has: ${group.join(', ')})`;
  }
  const words = [...new Set(names.map((n) => n.split(' ')[0]!))];
  const guess = closest(first, words);
  return `unknown command "${first}"${guess ? `; did you mean "${guess}"?` : ''}; ${list}`;
}

/** parseArgs' error in one line, with the option meant when an unknown one is a near miss (--step → --steps). */
function optionProblem(e: unknown, command: Command): string {
  const message = e instanceof Error ? e.message : String(e);
  const unknown = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /Unknown option '(-{1,2}[^']*)'/.exec(message)?.[1] : undefined;
  if (unknown === undefined) return `${command.name}: ${message} (usage: ${command.usage})`;
  const known = Object.keys({ ...GLOBAL_OPTIONS, ...command.options });
  const guess = unknown.startsWith('--') ? closest(unknown.slice(2), known) : undefined;
  return `${command.name}: unknown option ${unknown}${guess ? `; did you mean --${guess}?` : ''} (usage: ${command.usage})`;
}

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: prefixlab <command> [options]   (every command takes --json, --home DIR, --backend NAME)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "prefixlab COMMAND --help shows its usage; train and compare also list every method's options with defaults.",
  ].join('\n');
}

export async function runCli(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
  { signal }: { signal?: AbortSignal } = {},
): Promise<number> {
  const json = argv.includes('--json');
  const io: CliIO = {
    json,
    signal,
    log: (message) => err.write(message + '\n'),
    stdout: (line) => out.write(line + '\n'),
  };
  const fail = (message: string, code = 2) => {
    err.write(`prefixlab: ${message}\n`);
    return code;
  };
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.write(helpText() + '\n');
    return 0;
  }
  const found = findCommand(argv);
  if (!found) return fail(unknownCommandMessage(argv));
  const { command, rest } = found;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (e) {
    return fail(optionProblem(e, command));
  }
  if (parsed.values.help) {
    out.write(`${command.summary}\n\nUsage: ${command.usage}\n${command.details ? `\n${command.details()}\n` : ''}`);
    return 0;
  }
  try {
    const result = await command.run({ values: parsed.values, positionals: parsed.positionals }, io);
    if (result === 'streamed') return 0;
    out.write((json ? JSON.stringify(result.json) : (result.text ?? JSON.stringify(result.json, null, 2))) + '\n');
    return result.exitCode ?? 0;
  } catch (e) {
    return fail(`${command.name}: ${formatApiError(toErrorData(e))}`, 1);
  }
}
