// Runs `prefixlab` in-process for tests: the CLI writes to streams it is given, so a test reads exactly what a
// user would see on stdout and stderr, and the exit code.
import { Writable } from 'node:stream';
import { runCli } from './run-cli';

export interface CapturedStream {
  stream: Writable;
  text: () => string;
}

/** A writable that keeps everything written to it. */
export function capture(): CapturedStream {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** `prefixlab ...args`, run to its end. */
export async function cli(args: string[]): Promise<CliOutcome> {
  const out = capture();
  const err = capture();
  const code = await runCli(args, out.stream, err.stream);
  return { code, stdout: out.text(), stderr: err.text() };
}
