// The CLI prints one JSON document with --json and one readable line on bad input.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli';

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } });
  return { stream, text: () => text };
}

async function cli(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await runCli(args, out.stream, err.stream);
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('prefixlab CLI', () => {
  const home = mkdtempSync(join(tmpdir(), 'prefixlab-cli-'));

  it('info --json prints the system.info document', async () => {
    const { code, stdout } = await cli(['info', '--json', '--home', home, '--backend', 'cpu']);
    expect(code).toBe(0);
    const info = JSON.parse(stdout);
    expect(info.backend).toBe('cpu');
    expect(info.home).toBe(home);
    expect(info.backends.map((b: { name: string }) => b.name)).toContain('wasm');
  });

  it('bad input exits non-zero with one line naming the flag', async () => {
    const unknownFlag = await cli(['info', '--frobnicate']);
    expect(unknownFlag.code).not.toBe(0);
    expect(unknownFlag.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknownFlag.stderr).toMatch(/frobnicate/);
    const badBackend = await cli(['info', '--backend', 'abacus', '--home', home]);
    expect(badBackend.code).toBe(1);
    expect(badBackend.stderr).toMatch(/--backend: unknown backend "abacus"/);
    const unknownCommand = await cli(['transmogrify']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/unknown command/);
  });

  it('refuses a non-loopback host without --allow-remote', async () => {
    const { code, stderr } = await cli(['serve', '--host', '0.0.0.0', '--port', '0', '--home', home]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/--allow-remote/);
  });
});
