// Parses argv, finds the subcommand, runs it, prints one JSON document (--json) or text, and maps
// errors to one line on stderr with a non-zero exit code.
import { parseArgs } from 'node:util';
import { formatApiError, toApiErrorData } from '@shared/errors';
import { GLOBAL_OPTIONS, type CliIO, type Command } from './command';
import { COMMANDS } from './commands';

function findCommand(argv: string[]): { command: Command; rest: string[] } | undefined {
  const two = COMMANDS.find((c) => c.name === `${argv[0]} ${argv[1]}`);
  if (two) return { command: two, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === argv[0]);
  return one ? { command: one, rest: argv.slice(1) } : undefined;
}

export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: prefixlab <command> [options]   (every command takes --json, --home DIR, --backend NAME)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function runCli(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const json = argv.includes('--json');
  const io: CliIO = {
    json,
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
  if (!found) return fail(`unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}"; run "prefixlab --help"`);
  const { command, rest } = found;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (e) {
    return fail(`${command.name}: ${e instanceof Error ? e.message : String(e)} (usage: ${command.usage})`);
  }
  if (parsed.values.help) {
    out.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
    return 0;
  }
  try {
    const result = await command.run({ values: parsed.values, positionals: parsed.positionals }, io);
    if (result === 'streamed') return 0;
    out.write((json ? JSON.stringify(result.json) : (result.text ?? JSON.stringify(result.json, null, 2))) + '\n');
    return result.exitCode ?? 0;
  } catch (e) {
    return fail(`${command.name}: ${formatApiError(toApiErrorData(e))}`, 1);
  }
}
