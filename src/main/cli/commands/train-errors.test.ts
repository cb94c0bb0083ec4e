// `prefixlab train` with a data file that is not there: one line on stderr naming the file and the cause,
// never Node's raw "ENOENT: no such file or directory, open …". Runs the real service (and its training
// process); it stops at the first read of the file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixturesDir } from '../../engine/test-paths';
import { runCli } from '../run-cli';
import { capture } from '../cli-harness';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-cli-train-err-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('prefixlab train with a missing data file', () => {
  it('prints one line naming the file, without the raw system error', async () => {
    const missing = join(tmp, 'missing.csv');
    const out = capture();
    const err = capture();
    const code = await runCli(
      ['train', '--model', join(fixturesDir, 'llama-gqa'), '--data', missing, '--method', 'lora', '--steps', '1', '--home', join(tmp, 'home'), '--backend', 'cpu'],
      out.stream,
      err.stream,
    );
    expect(code).not.toBe(0);
    const lines = err.text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(missing);
    expect(lines[0]).not.toMatch(/ENOENT:|no such file or directory|\bopen '/);
    // The run checks its inputs before it starts: the first thing it finds is that the file is not there.
    expect(lines[0]).toBe(`prefixlab: train: ${missing}: dataset does not exist`);
  }, 120_000);
});
