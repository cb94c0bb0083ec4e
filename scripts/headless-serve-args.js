// The `prefixlab serve` arguments `npm start` uses when it falls back to headless: the user's own arguments
// (less start's --retry-electron), plus the home folder as a browsable root unless they named roots
// themselves — it is their own machine, served on loopback behind the token, and without it the file
// picker shows only ~/.prefixlab, so a new user cannot import a model.
import { homedir } from 'node:os';

export function headlessServeArgs(args, home = homedir()) {
  const passthrough = args.filter((a) => a !== '--retry-electron');
  const hasRoot = passthrough.some((a) => a === '--root' || a.startsWith('--root='));
  return hasRoot ? passthrough : [...passthrough, '--root', home];
}
