#!/usr/bin/env node
// The `prefixlab` command: runs the built CLI (npm install builds it; `npm run build` rebuilds it).
import { existsSync } from 'node:fs';

const cli = new URL('../out/main/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('prefixlab: the app is not built yet; run "npm run build" in the PrefixLab folder first');
  process.exit(1);
}
await import(cli.href);
