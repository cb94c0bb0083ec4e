// Gives one unit-test run its own temporary folder and removes it afterwards. Every test (and every process it
// spawns) takes its scratch folders from os.tmpdir(), so a test that forgets to clean up, or a crash midway, cannot
// leave gigabytes behind: on a shared disk that made a later CI run fail with ENOSPC.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const scoped = mkdtempSync(join(tmpdir(), 'prefixlab-vitest-'));
  // Set before the pool forks its workers, which inherit it.
  process.env.TMPDIR = scoped;
  return () => {
    rmSync(scoped, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  };
}
