import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../engine/backend';
import { fixturesDir } from '../engine/test-paths';
import { exportAdapter } from './export-adapter';
import { makeRandomAdapter } from './testing/random-adapter';

// A tolerance no export can meet stands in for an export that does not reload faithfully.
vi.mock('./parity', async (importOriginal) => ({ ...(await importOriginal<typeof import('./parity')>()), PARITY_TOLERANCE: -1 }));

describe('exportAdapter when the reload check fails', () => {
  let home: string;
  let out: string;

  beforeAll(async () => {
    await initBackend('cpu');
    home = mkdtempSync(join(tmpdir(), 'prefixlab-export-fail-home-'));
    out = mkdtempSync(join(tmpdir(), 'prefixlab-export-fail-out-'));
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  it('fails loudly, removes the partial output and leaves an existing folder untouched', async () => {
    const adapter = await makeRandomAdapter(home, join(fixturesDir, 'llama-gqa'), 'lora', { rank: 2 });
    await expect(exportAdapter({ home, id: adapter.id, format: 'merged', outDir: join(out, 'new') })).rejects.toThrow(
      /export check failed: the reloaded merged export differs from the in-app model by .* nothing was written/,
    );
    expect(existsSync(join(out, 'new'))).toBe(false);
    // An earlier export (as its marker says), which force may replace: a failed check leaves it as it was.
    const kept = join(out, 'kept');
    mkdirSync(kept);
    writeFileSync(join(kept, 'adapter_config.json'), '{"old": true}');
    writeFileSync(join(kept, '.prefixlab-export.json'), JSON.stringify({ version: 1, writtenBy: 'PrefixLab', format: 'peft', source: 'x', files: ['adapter_config.json'] }));
    await expect(exportAdapter({ home, id: adapter.id, format: 'peft', outDir: kept, force: true })).rejects.toThrow(/export check failed/);
    expect(readdirSync(kept).sort()).toEqual(['.prefixlab-export.json', 'adapter_config.json']);
    expect(readFileSync(join(kept, 'adapter_config.json'), 'utf8')).toBe('{"old": true}');
    expect(readdirSync(out).sort()).toEqual(['kept']);
  });
});
