// Entry point of the `prefixlab` command (bin/prefixlab.js loads the built copy of this file).
import { runCli } from './run-cli';

const code = await runCli(process.argv.slice(2));
// Let stdout drain, then exit: tfjs backends keep handles open that would otherwise hold the process.
process.stdout.write('', () => process.exit(code));
