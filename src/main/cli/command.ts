// What every `prefixlab` subcommand declares: its options (node:util parseArgs), and a run function that
// returns one JSON document (printed with --json) and optionally a human rendering of it.
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface CommandOutput {
  /** The JSON document for --json. */
  json: unknown;
  /** What a person sees without --json (defaults to pretty JSON). */
  text?: string;
  /** Non-zero when the command ran but found problems (e.g. `data inspect` on a file with errors). */
  exitCode?: number;
}

export interface CliIO {
  /** Logs and progress go to stderr so stdout stays one JSON document under --json. */
  log(message: string): void;
  /** Raw stdout, for commands that stream (serve prints its URL line first). */
  stdout(line: string): void;
  json: boolean;
  /** Ends a command that keeps running (serve) as SIGINT would; given by tests and embedders. */
  signal?: AbortSignal;
}

export interface Command {
  /** One or two words: "serve", "model inspect". */
  name: string;
  summary: string;
  usage: string;
  /** More for `--help` after the usage line (e.g. train's method options from their schemas). */
  details?: () => string;
  options: OptionSpec;
  run(args: ParsedArgs, io: CliIO): Promise<CommandOutput | 'streamed'>;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS: OptionSpec = {
  json: { type: 'boolean', default: false },
  home: { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
};
