// One streaming pass over a text file: raw chunks (for hashing and progress) → decoded, newline-normalised
// text chunks for the parsers. Memory stays at one chunk whatever the file size.
import { createReadStream } from 'node:fs';
import { ApiError } from '@shared/errors';
import type { TextEncoding } from '@shared/contract/datasets';
import { FallbackDecoder, NewlineNormaliser, type EncodingFallback } from './text-decoder';
import type { FileSniff } from './sniff-file';

export interface ByteStreamOptions {
  signal?: AbortSignal;
  /** Called with every raw chunk, in order, before it is decoded. */
  onBytes?: (chunk: Buffer, bytesRead: number) => void;
  chunkBytes?: number;
}

export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** Raw chunks of a file; honours the abort signal between chunks. */
export async function* readByteChunks(path: string, opts: ByteStreamOptions = {}): AsyncGenerator<Buffer> {
  const stream = createReadStream(path, { highWaterMark: opts.chunkBytes ?? DEFAULT_CHUNK_BYTES });
  let bytesRead = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      throwIfAborted(opts.signal);
      bytesRead += chunk.length;
      opts.onBytes?.(chunk, bytesRead);
      yield chunk;
    }
  } finally {
    stream.destroy();
  }
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new ApiError('cancelled', 'reading the dataset was cancelled');
}

/** A text file being decoded; `encoding` and `fallback` are final once `chunks()` has finished. */
export class TextFileReader {
  private readonly decoder: FallbackDecoder;

  constructor(
    private readonly path: string,
    private readonly sniff: FileSniff,
    private readonly opts: ByteStreamOptions = {},
  ) {
    this.decoder = new FallbackDecoder(sniff.bom);
  }

  get encoding(): TextEncoding {
    return this.decoder.encoding;
  }

  get fallback(): EncodingFallback | undefined {
    return this.decoder.fallback;
  }

  async *chunks(): AsyncGenerator<string> {
    const newlines = new NewlineNormaliser();
    let skip = this.sniff.bom === 'utf-8' ? this.sniff.bomLength : 0;
    for await (let chunk of readByteChunks(this.path, this.opts)) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        chunk = chunk.subarray(n);
        skip -= n;
      }
      const text = newlines.push(this.decoder.write(chunk));
      if (text) yield text;
    }
    const tail = newlines.push(this.decoder.end()) + newlines.end();
    if (tail) yield tail;
  }
}

/** Decode an in-memory head of a file the same way (for format sniffing). */
export function decodeHead(sniff: FileSniff): string {
  const decoder = new FallbackDecoder(sniff.bom);
  const bytes = sniff.bom === 'utf-8' ? sniff.head.subarray(sniff.bomLength) : sniff.head;
  const newlines = new NewlineNormaliser();
  // No decoder.end(): the head may stop inside a character that the next bytes would complete.
  return newlines.push(decoder.write(Buffer.from(bytes)));
}
