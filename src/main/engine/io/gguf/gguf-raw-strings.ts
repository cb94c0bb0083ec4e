// Reads string arrays of a GGUF file's metadata byte-exactly. @huggingface/gguf decodes every string with a default
// TextDecoder, which drops a leading byte-order mark: Gemma 3's vocabulary has both "//" and "\uFEFF//", and would
// get two tokens with one text. The tokenizer needs the exact texts, so its token and merge lists are read here,
// walking the metadata (GGUF v2/v3 layout, ggml docs/gguf.md) through a small window over the file.
import { closeSync, readSync } from 'node:fs';
import { ApiError } from '@shared/errors';
import { openRegularFile } from '../bounded-read';

/** Sizes of GGUF's scalar value types by type id (8 = string and 9 = array are variable). */
const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
/** How much of the file one read takes. */
const WINDOW = 1 << 20;
/** The most metadata entries, array elements and string bytes believed (the header parser has read it already). */
const MAX_COUNT = 2 ** 26;

/** The string arrays named by `keys` (absent keys are absent from the result), texts decoded keeping every byte's character. */
export function readGgufStringArrays(path: string, keys: string[]): Map<string, string[]> {
  const { fd, size } = openRegularFile(path);
  const wanted = new Set(keys);
  const found = new Map<string, string[]>();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const bad = (message: string): ApiError => new ApiError('bad_file', `invalid GGUF file: ${message}`, { file: path });
  let window = Buffer.alloc(0);
  let windowStart = 0;
  let pos = 0;
  const take = (n: number): Buffer => {
    if (pos + n > size) throw bad(`the metadata runs past the end of the file (${size} bytes; truncated?)`);
    if (pos < windowStart || pos + n > windowStart + window.length) {
      window = Buffer.alloc(Math.min(Math.max(n, WINDOW), size - pos));
      let done = 0;
      while (done < window.length) {
        const got = readSync(fd, window, done, window.length - done, pos + done);
        if (got === 0) throw bad('the file shrank while it was read');
        done += got;
      }
      windowStart = pos;
    }
    const at = pos - windowStart;
    pos += n;
    return window.subarray(at, at + n);
  };
  const count = (): number => {
    const value = take(8).readBigUInt64LE(0);
    if (value > BigInt(MAX_COUNT)) throw bad(`a metadata count or length of ${value} is implausible`);
    return Number(value);
  };
  const string = (): string => decoder.decode(take(count()));
  const skip = (type: number): void => {
    if (type === STRING) {
      const length = count(); // read first: `pos += count()` would add to the position before the count
      pos += length;
    } else if (type === ARRAY) {
      const elementType = take(4).readUInt32LE(0);
      const n = count();
      if (SCALAR_BYTES[elementType] !== undefined) pos += n * SCALAR_BYTES[elementType];
      else for (let i = 0; i < n; i++) skip(elementType);
    } else if (SCALAR_BYTES[type] !== undefined) {
      pos += SCALAR_BYTES[type];
    } else {
      throw bad(`metadata value type ${type} is not a GGUF type`);
    }
  };
  try {
    if (take(4).toString('latin1') !== 'GGUF') throw bad('it does not start with "GGUF"');
    const version = take(4).readUInt32LE(0);
    if (version !== 2 && version !== 3) throw new ApiError('unsupported', `GGUF version ${version} is not supported (versions 2 and 3 are)`, { file: path });
    count(); // tensors
    const entries = count();
    for (let e = 0; e < entries && found.size < wanted.size; e++) {
      const key = string();
      const type = take(4).readUInt32LE(0);
      if (!wanted.has(key) || type !== ARRAY) {
        skip(type);
        continue;
      }
      const elementType = take(4).readUInt32LE(0);
      if (elementType !== STRING) {
        pos -= 4;
        skip(ARRAY);
        continue;
      }
      const n = count();
      const values = new Array<string>(n);
      for (let i = 0; i < n; i++) values[i] = string();
      found.set(key, values);
    }
    return found;
  } finally {
    closeSync(fd);
  }
}
