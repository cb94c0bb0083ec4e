// Handlers are thin: they check paths, call services and shape replies. They never touch the disk or build
// a store themselves (a service does), so every read of <home> goes through one place.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../src/main/handlers');
const handlers = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

describe('handlers go through services', () => {
  it.each(handlers)('%s imports no file-system module, nothing from registry/, and constructs no store', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const imports = [...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(imports.filter((m) => /^(node:)?fs(\/promises)?$/.test(m) || m.startsWith('../registry/'))).toEqual([]);
    expect(text.match(/new \w+Store\(/g) ?? []).toEqual([]);
  });
});
