import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'atomic-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('replaces the file and leaves no temp file behind', async () => {
    const path = join(dir, 'manifest.json');
    await writeFile(path, 'old');
    await writeFileAtomic(path, 'new');
    await writeJsonAtomic(join(dir, 'b.json'), { a: 1 });
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(JSON.parse(await readFile(join(dir, 'b.json'), 'utf8'))).toEqual({ a: 1 });
    expect((await readdir(dir)).sort()).toEqual(['b.json', 'manifest.json']);
  });

  it('keeps the old file and cleans up when the write fails', async () => {
    const path = join(dir, 'sub');
    await expect(writeFileAtomic(join(dir, 'missing-folder', 'x.json'), 'data')).rejects.toThrow();
    await writeFile(path, 'old');
    // Renaming a file over a folder fails: the temp file must not remain.
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'folder'));
    await expect(writeFileAtomic(join(dir, 'folder'), 'data')).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['folder', 'sub']);
    expect(await readFile(path, 'utf8')).toBe('old');
  });
});
