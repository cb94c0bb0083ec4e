// Only stores reach main (src/renderer/src/api/index.ts): components, views and helpers go through a store,
// so every call's errors and state live in one place.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../src/renderer/src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(ts|vue)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('the api module', () => {
  it('is imported by stores only (api/errors, which formats errors, may be imported anywhere)', () => {
    const importsApi = /from\s+['"](\.\.\/)+api(\/index)?['"]|from\s+['"]@renderer\/api(\/index)?['"]/;
    const offenders = [...files(join(src, 'components')), ...files(join(src, 'views')), ...files(join(src, 'lib')), join(src, 'App.vue'), join(src, 'main.ts')]
      .filter((file) => importsApi.test(readFileSync(file, 'utf8')))
      .map((file) => relative(src, file));
    expect(offenders).toEqual([]);
  });
});
