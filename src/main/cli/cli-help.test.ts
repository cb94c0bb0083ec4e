// A new user's first mistakes at the command line: a mistyped option or command gets the one meant, the
// command list, and nothing glued from the arguments; `train --help` lists every method's options with
// defaults; `serve` says which folders the browser can show.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli';
import { closest, editDistance } from './suggest';
import { capture, cli } from './cli-harness';

describe('suggestions', () => {
  it('counts a swap of neighbours as one edit and suggests only near misses', () => {
    expect(editDistance('trian', 'train')).toBe(1);
    expect(editDistance('step', 'steps')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closest('trian', ['serve', 'train', 'compare'])).toBe('train');
    expect(closest('budget', ['budget-tokens', 'backend'])).toBe('budget-tokens');
    expect(closest('xyzzy', ['serve', 'train'])).toBeUndefined();
  });
});

describe('prefixlab CLI: mistakes and help', () => {
  const home = mkdtempSync(join(tmpdir(), 'prefixlab-cli-help-'));

  it('a mistyped option names the one meant, in one line', async () => {
    const { code, stderr } = await cli(['train', '--model', 'M', '--step', '5']);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^prefixlab: train: unknown option --step; did you mean --steps\? \(usage: prefixlab train /);
    const far = await cli(['info', '--frobnicate']);
    expect(far.stderr).toMatch(/^prefixlab: info: unknown option --frobnicate \(usage: /);
    expect(far.stderr).not.toMatch(/did you mean/);
  });

  it('a mistyped command is named alone, with the closest command and the list of commands', async () => {
    const { code, stderr } = await cli(['trian', '--model', 'M']);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^prefixlab: unknown command "trian"; did you mean "train"\?; commands: serve, info, model inspect, .*train, compare, .*export \(prefixlab --help\)$/m);
    expect((await cli(['trian', 'M'])).stderr).toMatch(/unknown command "trian";/);
    expect((await cli(['model', 'inspekt', 'DIR'])).stderr).toMatch(
      /^prefixlab: unknown command "model inspekt"; did you mean "model inspect"\? \(model has: model inspect, model list\)$/m,
    );
    expect((await cli(['data'])).stderr).toMatch(/^prefixlab: "data" needs one of: data inspect, data import, data split$/m);
    expect((await cli(['--json', 'info'])).stderr).toMatch(/^prefixlab: expected a command before the options, got "--json"; commands: /m);
  });

  it("train --help lists every method's options with their defaults, from the schemas", async () => {
    const { code, stdout } = await cli(['train', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: prefixlab train --model DIR/m);
    for (const method of ['ptplus', 'prefix', 'prompt', 'lora', 'full']) expect(stdout).toMatch(new RegExp(`^  ${method} \\(.*; learning rate [\\d.e-]+\\):$`, 'm'));
    expect(stdout).toMatch(/^ {4}rank +integer 1…1024, default 8 — Rank r of the update B·A$/m);
    expect(stdout).toMatch(/^ {4}featureMap +elu\|elu\+1\|gelu\|mlp, default "elu" — /m);
    expect(stdout).toMatch(/^ {4}phiDim +integer 1…4096 or null, default null — /m);
    expect(stdout).toMatch(/^ {2}batchSize +integer 1…, default 8 — Examples per batch/m);
    expect(stdout).toMatch(/^ {2}splitSeed +integer, default 0 — /m);
    expect((await cli(['compare', '--help'])).stdout).toMatch(/^ {4}numVirtualTokens +integer 1…1024, default 10 — /m);
    expect((await cli(['info', '--help'])).stdout).not.toMatch(/Method options/);
    expect((await cli(['--help'])).stdout).toMatch(/^prefixlab COMMAND --help shows its usage; train and compare also list every method's options with defaults\.$/m);
  });

  it('serve prints the browsable folders on stderr and lists them in its first JSON line', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'prefixlab-cli-root-')));
    const out = capture();
    const err = capture();
    const controller = new AbortController();
    const done = runCli(['serve', '--port', '0', '--json', '--home', home, '--root', root, '--backend', 'cpu'], out.stream, err.stream, { signal: controller.signal });
    for (let i = 0; i < 200 && !out.text().includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect(await done).toBe(0);
    const first = JSON.parse(out.text().split('\n')[0]!) as { url: string; home: string; roots: string[] };
    expect(first.roots).toEqual([realpathSync(home), root]);
    expect(err.text()).toContain(`browsable folders (the file picker): ${realpathSync(home)} (app data), ${root}; start serve with --root DIR to add others\n`);
  });
});
