import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PathGuard } from '../platform/path-guard';
import { FilesService, safeFileName } from './files-service';

let base: string;
let home: string;
let root: string;
let outside: string;
let files: FilesService;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'prefixlab-files-'));
  home = join(base, 'home');
  root = join(base, 'served');
  outside = join(base, 'private');
  for (const dir of [home, root, join(root, 'sub'), outside]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, 'b.tsv'), 'x\ty\n');
  writeFileSync(join(root, '.hidden'), '');
  writeFileSync(join(outside, 'secret.txt'), 'no');
  symlinkSync(outside, join(root, 'escape'));
  files = new FilesService(home, new PathGuard([home, root]), 10);
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('folder browser', () => {
  it('lists folders first, hides dot files and links that lead outside the roots', async () => {
    const listing = await files.list(root);
    expect(listing.entries.map((e) => `${e.kind}:${e.name}`)).toEqual(['dir:sub', 'file:b.tsv']);
    expect(listing.entries[1].bytes).toBe(4);
    expect(listing.parent).toBeNull();
    expect((await files.list(join(root, 'sub'))).parent).toBe(root);
  });

  it('refuses folders outside the roots, naming the field', async () => {
    await expect(files.list(outside)).rejects.toMatchObject({ code: 'forbidden', field: 'path' });
    await expect(files.list(join(root, 'escape'))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(files.list(join(root, '..', 'private'))).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('offers the roots with the app folder marked', () => {
    expect(files.roots().map((r) => r.label)).toEqual(['home (app data)', 'served']);
  });
});

describe('uploads', () => {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');

  it('assembles chunks in order into <home>/uploads without overwriting', async () => {
    const first = await files.upload({ name: 'data.jsonl', offset: 0, chunkBase64: b64('abcd'), totalBytes: 6, isLast: false });
    expect(first.path).toBeNull();
    const last = await files.upload({ name: 'data.jsonl', uploadId: first.uploadId, offset: 4, chunkBase64: b64('ef'), totalBytes: 6, isLast: true });
    expect(last.path).toBe(join(home, 'uploads', 'data.jsonl'));
    expect(readFileSync(last.path!, 'utf8')).toBe('abcdef');
    const again = await files.upload({ name: 'data.jsonl', offset: 0, chunkBase64: b64('z'), totalBytes: 1, isLast: true });
    expect(again.path).toBe(join(home, 'uploads', 'data (2).jsonl'));
  });

  it('refuses files over the limit, chunks out of order and unknown uploads', async () => {
    await expect(files.upload({ name: 'big.csv', offset: 0, chunkBase64: '', totalBytes: 11, isLast: false })).rejects.toMatchObject({
      code: 'invalid_argument',
      field: 'totalBytes',
    });
    const first = await files.upload({ name: 'a.csv', offset: 0, chunkBase64: b64('ab'), totalBytes: 4, isLast: false });
    await expect(files.upload({ name: 'a.csv', uploadId: first.uploadId, offset: 3, chunkBase64: b64('c'), totalBytes: 4, isLast: false })).rejects.toMatchObject({
      field: 'offset',
    });
    await expect(files.upload({ name: 'a.csv', uploadId: 'ffffffffffffffffffffffff', offset: 2, chunkBase64: b64('c'), totalBytes: 4, isLast: true })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('keeps only the last path component of a dropped name', () => {
    expect(safeFileName('../../etc/passwd')).toBe('passwd');
    expect(safeFileName('C:\\Users\\me\\..data.csv')).toBe('data.csv');
    expect(() => safeFileName('...')).toThrow(/no usable name/);
  });
});
