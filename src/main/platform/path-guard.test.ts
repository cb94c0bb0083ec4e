import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PathGuard } from './path-guard';

describe('PathGuard', () => {
  const base = mkdtempSync(join(tmpdir(), 'prefixlab-guard-'));
  const picked = join(base, 'picked');
  const outside = join(base, 'outside');
  mkdirSync(picked);
  mkdirSync(outside);
  writeFileSync(join(picked, 'data.csv'), 'a,b\n');
  writeFileSync(join(outside, 'secret.txt'), 'x');
  symlinkSync(outside, join(picked, 'escape'));
  const guard = new PathGuard([picked]);

  it('accepts files inside a picked folder, existing or not', () => {
    expect(guard.check(join(picked, 'data.csv'))).toMatch(/data\.csv$/);
    expect(guard.check(join(picked, 'new/out.json'))).toMatch(/out\.json$/);
  });

  it('refuses ../ escapes, symlinks out, relative paths and other folders', () => {
    expect(() => guard.check(join(picked, '../outside/secret.txt'))).toThrow(/outside the folders you picked/);
    expect(() => guard.check(join(picked, 'escape/secret.txt'))).toThrow(/outside the folders you picked/);
    expect(() => guard.check('data.csv')).toThrow(/not an absolute path/);
    expect(() => guard.check('/etc/passwd')).toThrow(/outside/);
    expect(() => guard.check(`${picked}\0/x`)).toThrow(/required/);
  });

  it('a folder allowed later becomes readable', () => {
    const g = new PathGuard();
    expect(() => g.check(join(outside, 'secret.txt'))).toThrow();
    g.allow(outside);
    expect(g.check(join(outside, 'secret.txt'))).toMatch(/secret\.txt$/);
  });
});
