// Text that is not UTF-8 is read as Windows-1252: spreadsheet exports write €, curly quotes and dashes at
// bytes 0x80–0x9F, which ISO-8859-1 would turn into invisible C1 controls.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectDataset } from '../../services/dataset-service';
import { tempDir } from '../testing/test-data';
import { decodeWindows1252, FallbackDecoder } from './text-decoder';

describe('decodeWindows1252', () => {
  it('maps 0x80–0x9F as the WHATWG index does and every other byte as Latin-1', () => {
    expect(decodeWindows1252(Buffer.from([0x80, 0x93, 0x94, 0x96, 0x97, 0x85, 0x99, 0x92]))).toBe('€“”–—…™’');
    // The five bytes Windows-1252 leaves unassigned stay C1 controls, as in browsers.
    expect(decodeWindows1252(Buffer.from([0x81, 0x8d, 0x8f, 0x90, 0x9d]))).toBe('\u0081\u008d\u008f\u0090\u009d');
    const latin1Half = Buffer.from(Array.from({ length: 0x60 }, (_, i) => 0xa0 + i));
    expect(decodeWindows1252(latin1Half)).toBe(latin1Half.toString('latin1'));
    expect(decodeWindows1252(Buffer.from('plain ascii'))).toBe('plain ascii');
  });

  it('decodes the same when the file arrives in chunks', () => {
    const bytes = Buffer.from([0x61, 0x80, 0x0a, 0x93, 0x62, 0x94, 0x96, 0x63]);
    const decoder = new FallbackDecoder(null);
    const text = [1, 2, 3, 4, 5, 6, 7, 8].map((end, i) => decoder.write(bytes.subarray(i, end))).join('') + decoder.end();
    expect(text).toBe('a€\n“b”–c');
    expect(decoder.encoding).toBe('windows-1252');
  });
});

describe('a Windows-1252 CSV (spreadsheet export)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(async () => tmp.cleanup());

  it('is decoded correctly and reported as windows-1252, with the line of its first non-UTF-8 byte', async () => {
    const file = join(tmp.dir, 'export.csv');
    // text,label / "costs 5 €",neutral / "he said “hi” – twice",positive / café,negative   (Windows-1252 bytes)
    await writeFile(
      file,
      Buffer.concat([
        Buffer.from('text,label\r\ncosts 5 '),
        Buffer.from([0x80]),
        Buffer.from(',neutral\r\nhe said '),
        Buffer.from([0x93]),
        Buffer.from('hi'),
        Buffer.from([0x94, 0x20, 0x96]),
        Buffer.from(' twice,positive\r\ncaf'),
        Buffer.from([0xe9]),
        Buffer.from(',negative\r\n'),
      ]),
    );
    const result = await inspectDataset(file);
    expect(result.encoding).toBe('windows-1252');
    expect(result.preview.map((p) => p.values.text)).toEqual(['costs 5 €', 'he said “hi” – twice', 'café']);
    const warning = result.warnings.find((w) => w.kind === 'encoding');
    expect(warning?.line).toBe(2);
    expect(warning?.message).toMatch(/Windows-1252/);
  });

  it('leaves ASCII and UTF-8 files as they were: utf-8, no encoding warning', async () => {
    const ascii = join(tmp.dir, 'ascii.csv');
    const utf8 = join(tmp.dir, 'utf8.csv');
    await writeFile(ascii, 'text,label\nplain words,a\nmore words,b\n');
    await writeFile(utf8, 'text,label\ncosts 5 €,a\nhe said “hi” – twice,b\n', 'utf8');
    for (const [file, texts] of [
      [ascii, ['plain words', 'more words']],
      [utf8, ['costs 5 €', 'he said “hi” – twice']],
    ] as const) {
      const result = await inspectDataset(file);
      expect(result.encoding).toBe('utf-8');
      expect(result.preview.map((p) => p.values.text)).toEqual(texts);
      expect(result.warnings.filter((w) => w.kind === 'encoding')).toEqual([]);
    }
  });
});
