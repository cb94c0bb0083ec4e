// Hostile inputs (tests/fuzz/hostile.ts), each refused cleanly within its time and memory bound: 100 GB
// safetensors claims, offsets past the end, 2^63 header lengths, JSON nested 10^5–10^6 deep, a 1 GB single
// line (streamed here; `npm run fuzz -- hostile` writes a real 1 GB file), 10^6 CSV columns, exabyte and
// 2^31-layer config.json files, 2^31 token ids.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostileCases } from '../fuzz/hostile';

const tmp = mkdtempSync(join(tmpdir(), 'prefixlab-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('hostile inputs', () => {
  hostileCases({ fullGigabyteFile: false }).forEach((c, i) => {
    it(`${c.name}: refused cleanly`, async () => {
      const dir = join(tmp, String(i));
      (await import('node:fs')).mkdirSync(dir);
      const t0 = performance.now();
      const outcome = await c.run(dir);
      // CI machines are shared: allow 3× the bound the full run enforces.
      expect(performance.now() - t0).toBeLessThan(3 * c.maxMs);
      expect(outcome).not.toMatch(/^FAILED/);
    });
  });
});
