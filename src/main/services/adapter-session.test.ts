// `--adapter` on logits and generate: a registry adapter, its PEFT export and a PT+ export give exactly the logits
// export's parity check computed for the in-app model (parity.json), different from the base model's; an adapter
// of another model and a folder that is not an adapter are one clear line each.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend';
import { fixturesDir, modelCache, realModels } from '../engine/test-paths';
import { exportAdapter } from '../export/export-adapter';
import { PARITY_FILE, PARITY_TOLERANCE, type ParityFile } from '../export/parity';
import { makeRandomAdapter } from '../export/testing/random-adapter';
import { cli } from '../cli/cli-harness';
import { generateText, lastLogits, unloadModels } from './model-service';

const llama = join(fixturesDir, 'llama-gqa');
const qwen2 = join(fixturesDir, 'qwen2');
/** Same module names as llama-gqa, one KV head instead of two: v_proj's LoRA B has another shape. */
const gemma3 = join(fixturesDir, 'gemma3');
let home: string;
let out: string;

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-adapter-session-'));
  out = mkdtempSync(join(tmpdir(), 'prefixlab-adapter-session-out-'));
});

afterAll(async () => {
  await unloadModels();
  rmSync(home, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
}

/** The in-app logits export's parity check stored for each input, last position. */
function parityLastLogits(dir: string): { inputs: number[][]; last: number[][] } {
  const parity = JSON.parse(readFileSync(join(dir, PARITY_FILE), 'utf8')) as ParityFile;
  return { inputs: parity.inputs, last: parity.logits.map((positions) => positions[positions.length - 1]) };
}

describe('--adapter on logits', () => {
  it('a LoRA adapter (registry id and its PEFT export) gives the parity logits, not the base ones', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'lora', { rank: 4, alpha: 8 });
    const peftDir = join(out, 'lora-peft');
    await exportAdapter({ home, id: adapter.id, format: 'peft', outDir: peftDir });
    const { inputs, last } = parityLastLogits(peftDir);
    for (let i = 0; i < inputs.length; i++) {
      const base = await lastLogits({ model: llama, ids: inputs[i] });
      const byId = await lastLogits({ model: llama, ids: inputs[i], adapter: adapter.id, home });
      const byFolder = await lastLogits({ model: llama, ids: inputs[i], adapter: peftDir, home });
      expect(maxDiff(byId.logits, last[i])).toBeLessThanOrEqual(PARITY_TOLERANCE);
      expect(maxDiff(byFolder.logits, last[i])).toBeLessThanOrEqual(PARITY_TOLERANCE);
      expect(maxDiff(base.logits, last[i])).toBeGreaterThan(1e-2);
    }
    // The cached base model is left as it was: the adapter's hooks were only for those calls.
    const again = await lastLogits({ model: llama, ids: inputs[0] });
    expect(maxDiff(again.logits, (await lastLogits({ model: llama, ids: inputs[0] })).logits)).toBe(0);
  });

  it('a PT+ export folder gives the parity logits', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'ptplus', {});
    const dir = join(out, 'ptplus');
    await exportAdapter({ home, id: adapter.id, format: 'ptplus', outDir: dir });
    const { inputs, last } = parityLastLogits(dir);
    for (let i = 0; i < inputs.length; i++) {
      const tuned = await lastLogits({ model: llama, ids: inputs[i], adapter: dir, home });
      const base = await lastLogits({ model: llama, ids: inputs[i] });
      expect(maxDiff(tuned.logits, last[i])).toBeLessThanOrEqual(PARITY_TOLERANCE);
      expect(maxDiff(base.logits, last[i])).toBeGreaterThan(1e-3);
    }
  });

  it('full fine-tuning gets a model of its own: the cached base is unchanged afterwards', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'full', {});
    const ids = [1, 5, 9, 13];
    const before = await lastLogits({ model: llama, ids });
    const tuned = await lastLogits({ model: llama, ids, adapter: adapter.id, home });
    const after = await lastLogits({ model: llama, ids });
    expect(maxDiff(tuned.logits, before.logits)).toBeGreaterThan(1e-3);
    expect(maxDiff(after.logits, before.logits)).toBe(0);
  });

  it('`prefixlab logits --adapter` and `generate --adapter` use it', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'lora', { rank: 2, alpha: 4 }, 11);
    const ids = [1, 7, 3];
    const expected = await lastLogits({ model: llama, ids, adapter: adapter.id, home });
    const base = await lastLogits({ model: llama, ids });
    const r = await cli(['logits', '--model', llama, '--ids', ids.join(','), '--adapter', adapter.id, '--home', home, '--backend', 'cpu', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const logits = (JSON.parse(r.stdout) as { logits: number[] }).logits;
    expect(maxDiff(logits, expected.logits)).toBe(0);
    expect(maxDiff(logits, base.logits)).toBeGreaterThan(1e-3);

    const greedy = { model: llama, promptIds: ids, maxNewTokens: 6, greedy: true };
    const tuned = await generateText({ ...greedy, adapter: adapter.id, home });
    const g = await cli([
      'generate',
      '--model',
      llama,
      '--prompt-ids',
      ids.join(','),
      '--max-new-tokens',
      '6',
      '--greedy',
      '--adapter',
      adapter.id,
      '--home',
      home,
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(g.code).toBe(0);
    expect((JSON.parse(g.stdout) as { ids: number[] }).ids).toEqual(tuned.ids);
    // Greedy's first token is the argmax of the adapted logits.
    expect(tuned.ids[0]).toBe(expected.logits.indexOf(Math.max(...expected.logits)));
  });
});

describe('--adapter: bad input is one line', () => {
  it('an adapter made on another model', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'lora', { rank: 2, alpha: 4 }, 3);
    await expect(lastLogits({ model: qwen2, ids: [1, 2], adapter: adapter.id, home })).rejects.toThrow(
      `adapter ${adapter.id} was made on ${llama}, not on ${qwen2} (the weight files differ)`,
    );
    const dir = join(out, 'lora-for-llama');
    await exportAdapter({ home, id: adapter.id, format: 'peft', outDir: dir });
    await expect(lastLogits({ model: qwen2, ids: [1, 2], adapter: dir, home })).rejects.toThrow(`adapter ${dir} was made on ${llama}, not on ${qwen2}`);
    const r = await cli(['logits', '--model', qwen2, '--ids', '1,2', '--adapter', adapter.id, '--home', home, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('the weight files differ');
  });

  it('a PEFT folder whose base is not on this machine is checked by its tensor shapes', async () => {
    const adapter = await makeRandomAdapter(home, llama, 'lora', { rank: 2, alpha: 4 }, 5);
    const dir = join(out, 'lora-hub-base');
    await exportAdapter({ home, id: adapter.id, format: 'peft', outDir: dir });
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ ...config, base_model_name_or_path: 'someone/some-model' }));
    await expect(lastLogits({ model: gemma3, ids: [1, 2], adapter: dir, home })).rejects.toThrow(new RegExp(`^adapter ${dir} does not fit ${gemma3}: lora tensor \\S+ has shape`));
  });

  it('a folder that is not an adapter, and an unknown id', async () => {
    const empty = join(out, 'not-an-adapter');
    mkdirSync(empty);
    const r = await cli(['logits', '--model', llama, '--ids', '1,2', '--adapter', empty, '--home', home, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(join(empty, 'adapter_config.json'));
    expect(r.stderr).toContain('not an adapter folder');
    await expect(lastLogits({ model: llama, ids: [1, 2], adapter: 'no-such-adapter', home })).rejects.toThrow('no adapter or run "no-such-adapter"');
  });
});

// A GGUF base (dequantized to float32): the adapter is checked against the file's sha256 and changes the logits;
// generate --chat uses it. (Parity with export's logits is shown on the fixtures above; loading this model is slow.)
const CACHE = modelCache;
const SMOLLM2 = join(CACHE, realModels.smollm2.file);
const hasSmollm2 = existsSync(SMOLLM2);
if (!hasSmollm2) console.warn(`skipping --adapter on SmolLM2-135M-Instruct: not in ${CACHE} (python3 scripts/models/fetch-models.py fetches it)`);

describe.skipIf(!hasSmollm2)('--adapter on a GGUF base (SmolLM2-135M-Instruct Q4_1)', () => {
  it('a LoRA adapter changes the logits; generate --chat --adapter is generateText with it', async () => {
    const adapter = await makeRandomAdapter(home, SMOLLM2, 'lora', { rank: 2, alpha: 4 }, 13);
    const ids = [1, 504, 3458, 314];
    const tuned = await lastLogits({ model: SMOLLM2, ids, adapter: adapter.id, home });
    const base = await lastLogits({ model: SMOLLM2, ids });
    expect(maxDiff(tuned.logits, base.logits)).toBeGreaterThan(1e-3);
    const r = await cli([
      'generate',
      '--model',
      SMOLLM2,
      '--adapter',
      adapter.id,
      '--chat',
      '--prompt',
      'Hi',
      '--greedy',
      '--max-new-tokens',
      '3',
      '--home',
      home,
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const expected = await generateText({ model: SMOLLM2, messages: [{ role: 'user', content: 'Hi' }], maxNewTokens: 3, greedy: true, adapter: adapter.id, home });
    expect((JSON.parse(r.stdout) as { ids: number[] }).ids).toEqual(expected.ids);
  }, 600_000);
});
