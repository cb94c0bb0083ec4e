// Issue 18's bad inputs, each one clear line from the CLI (exit 1, one line on stderr, nothing written):
// a PT+ adapter exported as GGUF (merged or adapter), an adapter made on another model given to `generate` and
// `eval` (`logits` is in services/adapter-session.test.ts), and a GGUF base whose architecture we do not support,
// for the GGUF exports as for the import. Tiny fixtures only: no real model needed.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, type CliOutcome } from '../cli/cli-harness';
import { initBackend } from '../engine/backend';
import { fixturesDir } from '../engine/test-paths';
import { unloadModels } from '../services/model-service';
import { makeRandomAdapter } from './testing/random-adapter';

const TINY = resolve(__dirname, '../../../tests/fixtures/gguf/tiny');
const QWEN2_GGUF = join(TINY, 'qwen2.gguf');
const llama = join(fixturesDir, 'llama-gqa');
const qwen2 = join(fixturesDir, 'qwen2');

let home: string;
let out: string;
beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-deploy-bad-home-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-deploy-bad-out-'));
});
afterAll(async () => {
  await unloadModels();
  for (const dir of [home, out]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The failure's one stderr line (exit 1, nothing else printed). */
function oneLine(r: CliOutcome): string {
  expect(r.code, r.stdout).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at |ENOENT/);
  return lines[0];
}

describe('deploy: bad input is one line', () => {
  it.skipIf(!existsSync(QWEN2_GGUF))(
    'a PT+ adapter exported as a merged GGUF or a GGUF adapter names the formats it has and why',
    async () => {
      const ptplus = await makeRandomAdapter(home, QWEN2_GGUF, 'ptplus', {});
      for (const format of ['gguf', 'gguf-lora']) {
        const dir = join(out, `ptplus-${format}`);
        const line = oneLine(await cli(['export', ptplus.id, '--format', format, '--out', dir, '--home', home, '--backend', 'cpu']));
        expect(line).toContain(`ptplus adapters export as ptplus, not ${format}`);
        if (format === 'gguf-lora') expect(line).toContain("llama.cpp's GGUF adapters are LoRA only");
        expect(existsSync(dir)).toBe(false);
      }
    },
    60_000,
  );

  it('an adapter made on another model, given to generate and eval', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'lora', { rank: 2, alpha: 4 }, 3);
    const g = oneLine(await cli(['generate', '--model', qwen2, '--prompt-ids', '1,2', '--max-new-tokens', '2', '--adapter', adapter.id, '--home', home, '--backend', 'cpu']));
    expect(g).toContain(`adapter ${adapter.id} was made on ${llama}, not on ${qwen2} (the weight files differ)`);
    const data = join(out, 'rows.jsonl');
    writeFileSync(
      data,
      [
        { text: 'good', label: 'yes' },
        { text: 'bad', label: 'no' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    const predictions = join(out, 'predictions.jsonl');
    const e = oneLine(await cli(['eval', '--model', qwen2, '--adapter', adapter.id, '--data', data, '--out', predictions, '--home', home, '--backend', 'cpu']));
    expect(e).toContain(`adapter ${adapter.id} was made on ${llama}, not on ${qwen2} (the weight files differ)`);
    expect(existsSync(predictions)).toBe(false);
  }, 60_000);

  it.skipIf(!existsSync(QWEN2_GGUF))(
    'a GGUF base with an unsupported architecture: the import and both GGUF exports name the file and the architecture',
    async () => {
      // An adapter trained on a qwen2 GGUF whose file then says another architecture (same length: "qwen9").
      const base = join(out, 'base.gguf');
      copyFileSync(QWEN2_GGUF, base);
      const lora = await makeRandomAdapter(home, base, 'lora', { rank: 2, alpha: 4 });
      const bytes = readFileSync(base);
      const patched = Buffer.from(bytes.toString('latin1').replaceAll('qwen2', 'qwen9'), 'latin1');
      expect(patched.length).toBe(bytes.length);
      writeFileSync(base, patched);
      const unsupported = /architecture "qwen9", which is not supported \(supported: [a-z0-9_, ]+\)/;

      const logits = oneLine(await cli(['logits', '--model', base, '--ids', '1,2', '--home', home, '--backend', 'cpu']));
      expect(logits).toContain(base);
      expect(logits).toMatch(unsupported);
      for (const format of ['gguf', 'gguf-lora']) {
        const dir = join(out, `qwen9-${format}`);
        const line = oneLine(await cli(['export', lora.id, '--format', format, '--out', dir, '--home', home, '--backend', 'cpu']));
        expect(line).toContain(base);
        expect(line).toMatch(unsupported);
        expect(existsSync(dir)).toBe(false);
      }
    },
    60_000,
  );
});
