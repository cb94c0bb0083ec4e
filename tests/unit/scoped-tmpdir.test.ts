// The unit run's scratch folders live in one folder that tests/setup/scoped-tmpdir.ts removes at the end, so
// nothing a test writes outlives the run, in this process or in the processes it spawns.
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename } from 'node:path';
import { expect, it } from 'vitest';

it('os.tmpdir() is the run-scoped folder, here and in a spawned process', () => {
  expect(basename(tmpdir())).toMatch(/^prefixlab-vitest-/);
  const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())']).toString();
  expect(child).toBe(tmpdir());
});
