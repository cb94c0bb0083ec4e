// The CLI prints one JSON document with --json and one readable line on bad input.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './cli-harness';

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

describe('prefixlab model commands on stories260K', () => {
  const shared = process.env.PREFIXLAB_SHARED ?? join(import.meta.dirname, '../../../../shared');
  const model = join(shared, 'models/stories260K-hf');
  const reference = join(shared, 'reference/stories260K_greedy.json');
  const hasShared = existsSync(model) && existsSync(reference);
  if (!hasShared) console.log(`skipping CLI model tests: ${model} not found (set PREFIXLAB_SHARED)`);

  it.skipIf(!hasShared)('model inspect --json prints the architecture card', async () => {
    const { code, stdout } = await cli(['model', 'inspect', model, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      architecture: 'llama',
      parameters: 260032,
      layers: 5,
      hidden: 64,
      heads: 8,
      kvHeads: 4,
      headDim: 8,
      vocab: 512,
      dtype: 'F32',
      tiedEmbeddings: true,
    });
  });

  it.skipIf(!hasShared)('logits and generate --json match the reference implementation', async () => {
    const ref = JSON.parse(readFileSync(reference, 'utf8')) as { greedy_ids: number[]; first_step_logits: number[] };
    const logits = await cli(['logits', '--model', model, '--ids', '1', '--json', '--backend', 'cpu']);
    const values = JSON.parse(logits.stdout).logits as number[];
    expect(values).toHaveLength(512);
    expect(Math.max(...values.map((v, i) => Math.abs(v - ref.first_step_logits[i]!)))).toBeLessThan(1e-4);
    const gen = await cli(['generate', '--model', model, '--prompt-ids', '1', '--max-new-tokens', '24', '--greedy', '--json', '--backend', 'cpu']);
    expect(gen.code).toBe(0);
    const out = JSON.parse(gen.stdout);
    expect(out).toMatchObject({ backend: 'cpu', promptIds: [1], ids: ref.greedy_ids.slice(0, 24) });
    expect(out.text).toMatch(/^Once upon a time/);
    expect(out.tokensPerSecond).toBeGreaterThan(0);
  });

  it('bad model input gives one line naming the file', async () => {
    const missing = await cli(['model', 'inspect', mkdtempSync(join(tmpdir(), 'prefixlab-empty-')), '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/config\.json/);
    const noPrompt = await cli(['generate', '--model', model, '--max-new-tokens', '3']);
    expect(noPrompt.code).toBe(1);
    expect(noPrompt.stderr).toMatch(/--prompt/);
  });
});

describe('prefixlab data inspect exit codes and JSON contract', () => {
  const broken = join(import.meta.dirname, '../../../tests/fixtures/datasets-broken');
  const dir = mkdtempSync(join(tmpdir(), 'prefixlab-data-'));
  const good = join(dir, 'good.jsonl');
  writeFileSync(
    good,
    ['{"text":"a sunny day","label":"pos"}', '{"text":"a rainy day","label":"neg"}', '{"text":"sun again","label":"pos"}', '{"text":"rain again","label":"neg"}'].join('\n'),
  );

  it('0 for a valid file, with the documented fields', async () => {
    const { code, stdout } = await cli(['data', 'inspect', good, '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    for (const key of ['format', 'encoding', 'rows', 'task', 'fields', 'labels', 'errors', 'errorCounts']) expect(result).toHaveProperty(key);
    expect(result).toMatchObject({ format: 'jsonl', rows: 4, task: 'classification', labels: { pos: 2, neg: 2 } });
  });

  it('1 for a file with errors, each naming file, line and field', async () => {
    const { code, stdout } = await cli(['data', 'inspect', join(broken, 'missing-field.jsonl'), '--json']);
    expect(code).toBe(1);
    const result = JSON.parse(stdout);
    expect(result.errors.length).toBeGreaterThan(0);
    expect(result.errors[0]).toMatchObject({ file: expect.stringContaining('missing-field.jsonl'), line: expect.any(Number) });
  });

  it('2 for a file that cannot be read at all', async () => {
    const { code } = await cli(['data', 'inspect', join(dir, 'nope.csv'), '--json']);
    expect(code).toBe(2);
    expect((await cli(['data', 'inspect', join(broken, 'binary.csv'), '--json'])).code).toBe(2);
  });
});

describe('prefixlab train → adapters list → export', () => {
  const shared = process.env.PREFIXLAB_SHARED ?? join(import.meta.dirname, '../../../../shared');
  const model = join(shared, 'models/stories260K-hf');
  const hasModel = existsSync(model);

  it.skipIf(!hasModel)('a finished run becomes an adapter that exports with reload parity', async () => {
    const home = mkdtempSync(join(tmpdir(), 'prefixlab-cli-train-'));
    const data = join(home, 'weather.jsonl');
    writeFileSync(
      data,
      ['sun', 'rain', 'sun', 'rain'].map((w, i) => JSON.stringify({ prompt: `Tom saw the ${w} ${i}. Tom was`, completion: w === 'sun' ? ' happy' : ' sad' })).join('\n'),
    );
    const trained = await cli([
      'train',
      '--model',
      model,
      '--data',
      data,
      '--method',
      'ptplus',
      '--steps',
      '2',
      '--eval-split',
      '1',
      '--set',
      'lr=0.02',
      '--home',
      home,
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(trained.code).toBe(0);
    const run = JSON.parse(trained.stdout);
    expect(run).toMatchObject({ status: 'finished', method: 'ptplus', steps: 2, learningRate: 0.02, trainableParams: 5 * 8 * 8 * 8 });
    for (const key of ['runId', 'options', 'tokensPerSecond', 'peakMemoryBytes', 'final']) expect(run).toHaveProperty(key);
    expect(run.adapterId).toEqual(expect.any(String));
    const listed = JSON.parse((await cli(['adapters', 'list', '--home', home, '--json'])).stdout);
    expect(listed.adapters.map((a: { id: string }) => a.id)).toContain(run.adapterId);
    const runs = JSON.parse((await cli(['runs', 'list', '--home', home, '--json'])).stdout);
    expect(runs.runs[0]).toMatchObject({ id: run.runId, status: 'finished' });
    const out = join(home, 'export-ptplus');
    const exported = await cli(['export', run.adapterId, '--format', 'ptplus', '--out', out, '--home', home, '--json']);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout).parity.ok).toBe(true);
    const again = await cli(['export', run.adapterId, '--format', 'ptplus', '--out', out, '--home', home, '--json']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
  });
});
