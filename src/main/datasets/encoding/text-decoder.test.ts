import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FallbackDecoder, firstInvalidUtf8, NewlineNormaliser } from './text-decoder';
import { detectBom } from './sniff-file';

function decodeInChunks(bytes: Buffer, cuts: number[], bom: ReturnType<typeof detectBom>['bom'] = null): { text: string; decoder: FallbackDecoder } {
  const decoder = new FallbackDecoder(bom);
  let text = '';
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b)) {
    text += decoder.write(bytes.subarray(from, cut));
    from = cut;
  }
  text += decoder.write(bytes.subarray(from));
  text += decoder.end();
  return { text, decoder };
}

describe('FallbackDecoder', () => {
  it('decodes UTF-8 split anywhere, even inside a multi-byte character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.array(fc.nat(300), { maxLength: 8 }), (s, cuts) => {
        const { text, decoder } = decodeInChunks(Buffer.from(s, 'utf8'), cuts);
        expect(text).toBe(s);
        expect(decoder.encoding).toBe('utf-8');
        expect(decoder.fallback).toBeUndefined();
      }),
    );
  });

  it('falls back to Windows-1252 at the first invalid byte and says on which line', () => {
    const bytes = Buffer.concat([Buffer.from('abc\ndef\nna'), Buffer.from([0xef, 0x76]), Buffer.from('e\n')]);
    const { text, decoder } = decodeInChunks(bytes, [9]);
    expect(text).toBe('abc\ndef\nnaïve\n');
    expect(decoder.encoding).toBe('windows-1252');
    expect(decoder.fallback).toEqual({ byteOffset: 10, line: 3, afterUtf8: false });
  });

  it('calls a file with UTF-8 before the invalid byte mixed (encoding stays utf-8)', () => {
    const bytes = Buffer.concat([Buffer.from('café\n'), Buffer.from([0xe9, 0x0a])]);
    const { text, decoder } = decodeInChunks(bytes, []);
    expect(text).toBe('café\né\n');
    expect(decoder.encoding).toBe('utf-8');
    expect(decoder.fallback).toMatchObject({ line: 2, afterUtf8: true });
  });

  it('treats a multi-byte character cut by the end of the file as Windows-1252 bytes', () => {
    const { text, decoder } = decodeInChunks(Buffer.from([0x61, 0xe2, 0x82]), []);
    expect(text).toBe('a\u00e2\u201a'); // â and 0x82 = ‚ (low single quote)
    expect(decoder.fallback).toMatchObject({ byteOffset: 1 });
  });

  it.each(['utf-16le', 'utf-16be'] as const)('decodes %s after its BOM, split at odd offsets', (encoding) => {
    const s = 'text,label\nnaïve 😀,pos\n';
    const body = Buffer.from(s, 'utf16le');
    if (encoding === 'utf-16be') body.swap16();
    const bytes = Buffer.concat([Buffer.from(encoding === 'utf-16le' ? [0xff, 0xfe] : [0xfe, 0xff]), body]);
    expect(detectBom(bytes).bom).toBe(encoding);
    const { text, decoder } = decodeInChunks(bytes, [3, 7, 21], encoding);
    expect(text).toBe(s);
    expect(decoder.encoding).toBe(encoding);
  });

  it('finds the first invalid sequence (overlong, surrogate, stray continuation)', () => {
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf]))).toBe(1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(Buffer.from([0x80]))).toBe(0);
    expect(firstInvalidUtf8(Buffer.from('ok ✓', 'utf8'))).toBe(6);
  });
});

describe('NewlineNormaliser', () => {
  it('turns \\r\\n and lone \\r into \\n, also when \\r ends a chunk', () => {
    const n = new NewlineNormaliser();
    expect(n.push('a\r') + n.push('\nb\rc\r') + n.push('d\r\n') + n.end()).toBe('a\nb\nc\nd\n');
    const m = new NewlineNormaliser();
    expect(m.push('x\r') + m.end()).toBe('x\n');
  });
});
