// The app's generations with a registry adapter (models.generate → the model worker → generateText with
// registryOnly) keep the attached session between calls; a changed adapter must never reuse the session with
// the old one attached, also while another generation still uses it; ids are never taken as folders.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../engine/backend';
import { fixturesDir } from '../engine/test-paths';
import { makeRandomAdapter } from '../export/testing/random-adapter';
import { adapterSessionCount, generateText, unloadModels } from './model-service';

const llama = join(fixturesDir, 'llama-gqa');
let home: string;
let cwd: string;
const savedCwd = process.cwd();

beforeAll(async () => {
  await initBackend('cpu');
  home = mkdtempSync(join(tmpdir(), 'prefixlab-adapter-cache-'));
  cwd = mkdtempSync(join(tmpdir(), 'prefixlab-adapter-cache-cwd-'));
});

afterAll(async () => {
  process.chdir(savedCwd);
  await unloadModels();
  rmSync(home, { recursive: true, force: true });
  rmSync(cwd, { recursive: true, force: true });
});

const greedy = { model: llama, promptIds: [1, 7, 3, 9], maxNewTokens: 8, greedy: true };

describe('adapter sessions of the app', () => {
  it('a changed adapter gets its own session: A, B, base and A again each give their own text', async () => {
    const a = await makeRandomAdapter(home, llama, 'lora', { rank: 4, alpha: 64 }, 3);
    const b = await makeRandomAdapter(home, llama, 'lora', { rank: 4, alpha: 64 }, 5);
    const app = (adapter?: string) => generateText({ ...greedy, ...(adapter ? { adapter, home, registryOnly: true } : {}) });
    // Uncached references: the CLI's path opens and frees a session per call.
    const fresh = async (adapter: string) => (await generateText({ ...greedy, adapter, home })).ids;
    const refA = await fresh(a.id);
    const refB = await fresh(b.id);
    const base = (await app()).ids;
    expect(refA).not.toEqual(refB);
    expect(refA).not.toEqual(base);

    expect((await app(a.id)).ids).toEqual(refA);
    expect(adapterSessionCount()).toBe(1);
    expect((await app(a.id)).ids).toEqual(refA); // reused
    expect((await app(b.id)).ids).toEqual(refB); // not A's session
    expect(adapterSessionCount()).toBe(1); // A's was retired
    expect((await app()).ids).toEqual(base); // the base model carries no adapter hooks
    expect((await app(a.id)).ids).toEqual(refA);

    // Two generations at once with different adapters: each keeps its own, the retired one lives until it ends.
    const [x, y, z] = await Promise.all([app(b.id), app(a.id), app()]);
    expect(x.ids).toEqual(refB);
    expect(y.ids).toEqual(refA);
    expect(z.ids).toEqual(base);
  });

  it('full fine-tuning: its own model per session; switching back to a hook adapter leaves the base untouched', async () => {
    const full = await makeRandomAdapter(home, llama, 'full', {}, 9);
    const lora = await makeRandomAdapter(home, llama, 'lora', { rank: 2, alpha: 32 }, 13);
    const app = (adapter?: string) => generateText({ ...greedy, ...(adapter ? { adapter, home, registryOnly: true } : {}) });
    const base = (await app()).ids;
    const tunedFull = (await app(full.id)).ids;
    expect((await app(full.id)).ids).toEqual(tunedFull);
    const tunedLora = (await app(lora.id)).ids;
    expect((await generateText({ ...greedy, adapter: lora.id, home })).ids).toEqual(tunedLora);
    expect((await app()).ids).toEqual(base);
  });

  it('an id is never read as a folder, and an unknown id is one line', async () => {
    const a = await makeRandomAdapter(home, llama, 'lora', { rank: 2, alpha: 4 }, 17);
    // A folder named like the id in the working directory: the CLI would take the folder, the app the id.
    mkdirSync(join(cwd, a.id));
    process.chdir(cwd);
    try {
      const byId = await generateText({ ...greedy, adapter: a.id, home, registryOnly: true });
      process.chdir(savedCwd);
      expect(byId.ids).toEqual((await generateText({ ...greedy, adapter: a.id, home })).ids);
    } finally {
      process.chdir(savedCwd);
    }
    await expect(generateText({ ...greedy, adapter: 'no-such-adapter', home, registryOnly: true })).rejects.toMatchObject({
      code: 'not_found',
      message: `no adapter or run "no-such-adapter" in ${home}`,
    });
    await expect(generateText({ ...greedy, adapter: '../elsewhere', home, registryOnly: true })).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
