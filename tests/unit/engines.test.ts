// package.json's `engines.node` must be true of every installed package: `npm install` on the oldest Node we
// claim prints no EBADENGINE warning, and nothing we ship or test needs a newer Node than we say.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

describe('engines', () => {
  const oldest = semver.minVersion(pkg.engines.node)?.version ?? '';

  it('names a real lower bound that this Node satisfies', () => {
    expect(oldest).toMatch(/^\d+\.\d+\.\d+$/);
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('every locked package runs on the oldest Node that package.json accepts', () => {
    const misfits: string[] = [];
    for (const [path, info] of Object.entries(lock.packages)) {
      const range = !path || Array.isArray(info.engines) ? undefined : info.engines?.node;
      if (range && !semver.satisfies(oldest, range)) misfits.push(`${path.replace(/^node_modules\//, '')}@${info.version} needs node ${range}`);
    }
    expect(misfits).toEqual([]);
  });
});
