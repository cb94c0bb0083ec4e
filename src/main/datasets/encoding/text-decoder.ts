// Streaming bytes → text. UTF-16 follows its BOM; everything else is read as UTF-8 until the first byte
// sequence that is not UTF-8, from where on the rest is read as Windows-1252 (Latin-1 plus €, curly quotes
// and dashes at 0x80–0x9F, as spreadsheet exports write them; it decodes any byte). Deciding per byte
// offset, rather than re-reading, keeps one pass over files of hundreds of MB.
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import type { TextEncoding } from '@shared/contract/datasets';
import type { Bom } from './sniff-file';

export interface EncodingFallback {
  /** Byte offset of the first invalid UTF-8 sequence. */
  byteOffset: number;
  /** 1-based line it sits on. */
  line: number;
  /** True when valid multi-byte UTF-8 came before it (a mixed file, not a plain Windows-1252 one). */
  afterUtf8: boolean;
}

export class FallbackDecoder {
  private mode: 'utf-8' | 'windows-1252' | 'utf-16le' | 'utf-16be';
  private carry: Buffer = Buffer.alloc(0);
  private utf16?: TextDecoder;
  private bytesSeen = 0;
  private newlines = 0;
  private sawMultibyte = false;
  fallback?: EncodingFallback;

  constructor(bom: Bom | null) {
    this.mode = bom === 'utf-16le' || bom === 'utf-16be' ? bom : 'utf-8';
    // The UTF-16 decoder drops its BOM itself; callers skip a UTF-8 BOM before writing.
    if (this.mode === 'utf-16le' || this.mode === 'utf-16be') this.utf16 = new TextDecoder(this.mode);
  }

  /** 'windows-1252' when the fallback decoded a file that had no UTF-8 before its first invalid byte. */
  get encoding(): TextEncoding {
    if (this.mode === 'windows-1252' && this.fallback && !this.fallback.afterUtf8) return 'windows-1252';
    return this.mode === 'windows-1252' ? 'utf-8' : this.mode;
  }

  write(chunk: Buffer): string {
    if (this.utf16) return this.utf16.decode(chunk, { stream: true });
    if (this.mode === 'windows-1252') return decodeWindows1252(chunk);
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const cut = completeLength(data);
    const body = data.subarray(0, cut);
    this.carry = Buffer.from(data.subarray(cut));
    const start = this.bytesSeen;
    this.bytesSeen += body.length;
    if (isUtf8(body)) return this.utf8(body);
    const bad = firstInvalidUtf8(body);
    const head = this.utf8(body.subarray(0, bad));
    this.switchToWindows1252(start + bad);
    const rest = Buffer.concat([body.subarray(bad), this.carry]);
    this.carry = Buffer.alloc(0);
    return head + decodeWindows1252(rest);
  }

  end(): string {
    if (this.utf16) return this.utf16.decode();
    if (this.carry.length === 0) return '';
    // A multi-byte sequence cut off by the end of the file.
    if (this.mode === 'utf-8') this.switchToWindows1252(this.bytesSeen);
    const tail = decodeWindows1252(this.carry);
    this.carry = Buffer.alloc(0);
    return tail;
  }

  private utf8(bytes: Buffer): string {
    const text = bytes.toString('utf8');
    if (text.length !== bytes.length) this.sawMultibyte = true;
    let i = -1;
    while ((i = text.indexOf('\n', i + 1)) !== -1) this.newlines++;
    return text;
  }

  private switchToWindows1252(byteOffset: number): void {
    this.mode = 'windows-1252';
    this.fallback = { byteOffset, line: this.newlines + 1, afterUtf8: this.sawMultibyte };
  }
}

/**
 * Windows-1252 as the WHATWG Encoding Standard defines it (index-windows-1252): Latin-1, except that bytes
 * 0x80–0x9F are €, ‚, ƒ, „, …, curly quotes, en/em dashes, ™ and so on (the five unassigned ones, 0x81, 0x8D,
 * 0x8F, 0x90, 0x9D, stay C1 controls). A table rather than TextDecoder('windows-1252'): Node since 20.18.3
 * decodes those 32 bytes as Latin-1 in a one-shot decode() (nodejs/node#60888).
 */
const WINDOWS_1252_80_9F =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const C1_RANGE = /[\x80-\x9f]/g;

export function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return latin1.replace(C1_RANGE, (c) => WINDOWS_1252_80_9F[c.charCodeAt(0) - 0x80]);
}

/** Length of `data` without a trailing, possibly incomplete multi-byte sequence (kept for the next chunk). */
function completeLength(data: Buffer): number {
  const n = data.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = data[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** Offset of the first byte that does not start a valid UTF-8 sequence (the slow path, run once). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= bytes.length) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return bytes.length;
}

/** Turns \r\n and lone \r into \n across chunk boundaries, so every parser counts lines the same way. */
export class NewlineNormaliser {
  private pendingCr = false;

  push(text: string): string {
    if (this.pendingCr) {
      text = '\r' + text;
      this.pendingCr = false;
    }
    if (text.endsWith('\r')) {
      this.pendingCr = true;
      text = text.slice(0, -1);
    }
    return text.indexOf('\r') === -1 ? text : text.replace(/\r\n?/g, '\n');
  }

  end(): string {
    const tail = this.pendingCr ? '\n' : '';
    this.pendingCr = false;
    return tail;
  }
}
