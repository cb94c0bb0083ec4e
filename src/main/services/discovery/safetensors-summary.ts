// What discovery needs from a safetensors file: tensor count per dtype and element count, from the header alone.
// engine/io/safetensors.ts reads only the dtypes the engine computes with; a listing must also show files it
// cannot load (U8/I8 quantized weights, F8), so this reads the 8-byte length and JSON header itself, bounded.
import { closeSync, readSync } from 'node:fs';
import { ApiError } from '@shared/errors';
import { openRegularFile } from '../../engine/io/bounded-read';

/** Real headers are a few hundred KB; the engine's reader uses the same cap. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsSummary {
  parameters: number;
  dtypes: Record<string, number>;
  sizeBytes: number;
}

export function summarizeSafetensors(path: string): SafetensorsSummary {
  const { fd, size } = openRegularFile(path);
  const bad = (message: string): ApiError => new ApiError('bad_file', `invalid safetensors file: ${message}`, { file: path });
  try {
    if (size < 8) throw bad(`file is ${size} bytes, too short for a header`);
    const lengthBytes = Buffer.alloc(8);
    readFully(fd, lengthBytes, 0, () => bad('file ends inside the header length'));
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) throw bad(`header length ${headerLength} does not fit in the file (${size} bytes; truncated?)`);
    const headerBytes = Buffer.alloc(Number(headerLength));
    readFully(fd, headerBytes, 8, () => bad('file ends inside its header (truncated?)'));
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString('utf8'));
    } catch (err) {
      throw bad(`header is not valid JSON (${(err as Error).message})`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw bad('header is not a JSON object');
    const dataSize = size - 8 - Number(headerLength);
    let parameters = 0;
    const dtypes: Record<string, number> = {};
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
      const shape = entry?.shape;
      const offsets = entry?.data_offsets;
      if (typeof entry?.dtype !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw bad(`tensor ${name} has no valid dtype and shape`);
      }
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) throw bad(`tensor ${name} has invalid data_offsets`);
      if ((offsets[1] as number) > dataSize) throw bad(`tensor ${name} data ends at byte ${offsets[1]} but the data section has ${dataSize} bytes (truncated?)`);
      parameters += (shape as number[]).reduce((a, b) => a * b, 1);
      dtypes[entry.dtype] = (dtypes[entry.dtype] ?? 0) + 1;
    }
    return { parameters, dtypes, sizeBytes: size };
  } finally {
    closeSync(fd);
  }
}

function readFully(fd: number, target: Buffer, position: number, short: () => ApiError): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) throw short();
    done += n;
  }
}
