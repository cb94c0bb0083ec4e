// Streaming bytes → text. UTF-16 follows its BOM; everything else is read as UTF-8 until the first byte
// sequence that is not UTF-8, from where on the rest is read as Latin-1 (ISO-8859-1, which decodes any
// byte). Deciding per byte offset, rather than re-reading, keeps one pass over files of hundreds of MB.
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import type { TextEncoding } from '@shared/contract/datasets';
import type { Bom } from './sniff-file';

export interface EncodingFallback {
  /** Byte offset of the first invalid UTF-8 sequence. */
  byteOffset: number;
  /** 1-based line it sits on. */
  line: number;
  /** True when valid multi-byte UTF-8 came before it (a mixed file, not a plain Latin-1 one). */
  afterUtf8: boolean;
}

export class FallbackDecoder {
  private mode: 'utf-8' | 'latin1' | 'utf-16le' | 'utf-16be';
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

  /** 'latin1' when the fallback decoded a file that had no UTF-8 before its first invalid byte. */
  get encoding(): TextEncoding {
    if (this.mode === 'latin1' && this.fallback && !this.fallback.afterUtf8) return 'latin1';
    return this.mode === 'latin1' ? 'utf-8' : this.mode;
  }

  write(chunk: Buffer): string {
    if (this.utf16) return this.utf16.decode(chunk, { stream: true });
    if (this.mode === 'latin1') return chunk.toString('latin1');
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const cut = completeLength(data);
    const body = data.subarray(0, cut);
    this.carry = Buffer.from(data.subarray(cut));
    const start = this.bytesSeen;
    this.bytesSeen += body.length;
    if (isUtf8(body)) return this.utf8(body);
    const bad = firstInvalidUtf8(body);
    const head = this.utf8(body.subarray(0, bad));
    this.switchToLatin1(start + bad);
    const rest = Buffer.concat([body.subarray(bad), this.carry]);
    this.carry = Buffer.alloc(0);
    return head + rest.toString('latin1');
  }

  end(): string {
    if (this.utf16) return this.utf16.decode();
    if (this.carry.length === 0) return '';
    // A multi-byte sequence cut off by the end of the file.
    if (this.mode === 'utf-8') this.switchToLatin1(this.bytesSeen);
    const tail = this.carry.toString('latin1');
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

  private switchToLatin1(byteOffset: number): void {
    this.mode = 'latin1';
    this.fallback = { byteOffset, line: this.newlines + 1, afterUtf8: this.sawMultibyte };
  }
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
